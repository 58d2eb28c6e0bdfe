// Command expcount counts the exported identifiers of the packages in the
// directories it is given, as the "one shape" issue counts them: top-level
// names (consts, vars, funcs, types) plus exported methods of exported
// types (interface methods included), and, separately, exported struct
// fields. Test files are skipped. Usage, from the module root:
//
//	go run ./internal/expcount quota quota/backend quota/memstore video
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	for _, dir := range os.Args[1:] {
		fset := token.NewFileSet()
		entries, err := os.ReadDir(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "expcount:", err)
			os.Exit(1)
		}
		var files []*ast.File
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
			if err != nil {
				fmt.Fprintln(os.Stderr, "expcount:", err)
				os.Exit(1)
			}
			files = append(files, f)
		}
		var top, methods, fields, gen int
		for _, f := range files {
			isGen := ast.IsGenerated(f)
			n0 := top + methods
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() {
						continue
					}
					if d.Recv == nil {
						top++
					} else {
						t := d.Recv.List[0].Type
						if s, ok := t.(*ast.StarExpr); ok {
							t = s.X
						}
						if ix, ok := t.(*ast.IndexExpr); ok {
							t = ix.X
						}
						if id, ok := t.(*ast.Ident); ok && id.IsExported() {
							methods++
						}
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if n.IsExported() {
									top++
								}
							}
						case *ast.TypeSpec:
							if !s.Name.IsExported() {
								continue
							}
							top++
							switch t := s.Type.(type) {
							case *ast.StructType:
								for _, fl := range t.Fields.List {
									for _, n := range fl.Names {
										if n.IsExported() {
											fields++
										}
									}
								}
							case *ast.InterfaceType:
								for _, m := range t.Methods.List {
									for _, n := range m.Names {
										if n.IsExported() {
											methods++
										}
									}
								}
							}
						}
					}
				}
			}
			if isGen {
				gen += top + methods - n0
			}
		}
		fmt.Printf("%-22s top-level %3d  methods %3d  = %3d (generated %d)   struct fields %d\n", dir, top, methods, top+methods, gen, fields)
	}
}

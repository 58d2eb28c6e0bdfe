package video

//go:generate go run ./internal/gen -o api_gen.go

package loadtest

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line of a chart: Values[i] is plotted at x = i + 0.5 (the
// middle of the i-th one-second bucket).
type Series struct {
	Name   string
	Color  color.RGBA
	Values []float64
}

// Panel is one plot of a chart: its own y axis over the shared x axis.
type Panel struct {
	YLabel string
	// RefValue, when positive, draws a dashed horizontal line labelled RefLabel (the quota).
	RefValue float64
	RefLabel string
	Series   []Series
}

// Chart describes a line chart of one or more panels stacked vertically,
// sharing the x axis (seconds) and the legend (taken from the first panel).
type Chart struct {
	Title, XLabel string
	Panels        []Panel
	// Width and Height in pixels; zero means the default of [WriteChart].
	Width, Height int
}

// Palette holds distinct colours for up to four series.
var Palette = [...]color.RGBA{
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
}

var (
	black = color.RGBA{A: 0xff}
	grey  = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
	light = color.RGBA{R: 0xe6, G: 0xe6, B: 0xe6, A: 0xff}
	white = color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
)

// WriteChart draws c as a PNG to w. A zero size means 960 pixels wide and
// 540 high for one panel, 300 more per further panel.
func WriteChart(w io.Writer, c Chart) error {
	if len(c.Panels) == 0 || len(c.Panels[0].Series) == 0 {
		return errors.New("loadtest: chart has no series")
	}
	width, height := c.Width, c.Height
	if width == 0 && height == 0 {
		width, height = 960, 540+300*(len(c.Panels)-1)
	}
	if width < 320 || height < 200*len(c.Panels) {
		return fmt.Errorf("loadtest: chart size %dx%d: want at least 320 wide and 200 high per panel", width, height)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)

	n := 1
	for _, p := range c.Panels {
		for _, s := range p.Series {
			n = max(n, len(s.Values))
		}
	}
	left, right := 80, width-20
	top0, bottom0 := 40, height-60
	gap := 30
	ph := (bottom0 - top0 - gap*(len(c.Panels)-1)) / len(c.Panels)
	px := func(x float64) int { return left + int(math.Round(x/float64(n)*float64(right-left))) }
	for i, p := range c.Panels {
		top := top0 + i*(ph+gap)
		drawPanel(img, p, left, right, top, top+ph, n, px, i == len(c.Panels)-1)
	}
	text(img, (width-textWidth(c.Title))/2, 24, c.Title, black)
	text(img, left+(right-left-textWidth(c.XLabel))/2, height-16, c.XLabel, black)

	// Legend, top right of the first panel.
	series := c.Panels[0].Series
	lw := 0
	for _, s := range series {
		lw = max(lw, textWidth(s.Name))
	}
	lx, ly := right-lw-50, top0+8
	lh := 18*len(series) + 8
	fill(img, image.Rect(lx-8, ly-4, right-8, ly+lh-4), white)
	rect(img, image.Rect(lx-8, ly-4, right-8, ly+lh-4), grey)
	for i, s := range series {
		y := ly + 10 + 18*i
		for d := -1; d <= 1; d++ {
			hline(img, lx, lx+24, y+d, s.Color)
		}
		text(img, lx+32, y+5, s.Name, black)
	}
	return png.Encode(w, img)
}

// drawPanel draws one panel in the box [left, right] x [top, bottom].
func drawPanel(img *image.RGBA, p Panel, left, right, top, bottom, n int, px func(float64) int, xLabels bool) {
	ymax := p.RefValue
	for _, s := range p.Series {
		for _, v := range s.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				ymax = max(ymax, v)
			}
		}
	}
	step := niceStep(ymax * 1.1 / 5)
	ytop := step * math.Ceil(ymax*1.1/step)
	if ytop <= 0 {
		ytop, step = 1, 0.2
	}
	py := func(y float64) int { return bottom - int(math.Round(y/ytop*float64(bottom-top))) }

	for y := 0.0; y <= ytop+step/2; y += step {
		yy := py(y)
		hline(img, left, right, yy, light)
		label := trimFloat(y)
		text(img, left-8-textWidth(label), yy+4, label, black)
	}
	xstep := max(int(niceStep(float64(n)/10)), 1)
	for x := 0; x <= n; x += xstep {
		xx := px(float64(x))
		vline(img, xx, bottom, bottom+5, black)
		if xLabels {
			label := fmt.Sprint(x)
			text(img, xx-textWidth(label)/2, bottom+18, label, black)
		}
	}
	hline(img, left, right, bottom, black)
	vline(img, left, top, bottom, black)

	if p.RefValue > 0 {
		yy := py(p.RefValue)
		for x := left; x < right; x += 10 {
			hline(img, x, min(x+5, right), yy, grey)
		}
		if p.RefLabel != "" {
			// Under the line at the right, where the legend is not; the
			// lines are drawn over it.
			text(img, right-8-textWidth(p.RefLabel), yy+15, p.RefLabel, grey)
		}
	}
	for _, s := range p.Series {
		var prev image.Point
		for i, v := range s.Values {
			pt := image.Pt(px(float64(i)+0.5), py(v))
			if i > 0 {
				line(img, prev, pt, s.Color)
			}
			dot(img, pt, s.Color)
			prev = pt
		}
	}
	vtext(img, 14, top+(bottom-top+textWidth(p.YLabel))/2, p.YLabel, black)
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

var face = basicfont.Face7x13

func textWidth(s string) int { return font.MeasureString(face, s).Round() }

// text draws s with its baseline at y.
func text(img draw.Image, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// vtext draws s rotated a quarter turn counter-clockwise, starting at (x, y) and going up.
func vtext(img *image.RGBA, x, y int, s string, c color.RGBA) {
	w, h := textWidth(s), 13
	tmp := image.NewRGBA(image.Rect(0, 0, w, h))
	text(tmp, 0, 10, s, c)
	for i := 0; i < w; i++ {
		for j := 0; j < h; j++ {
			if _, _, _, a := tmp.At(i, j).RGBA(); a > 0 {
				img.Set(x+j, y-i, tmp.At(i, j))
			}
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

func rect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	hline(img, r.Min.X, r.Max.X, r.Min.Y, c)
	hline(img, r.Min.X, r.Max.X, r.Max.Y, c)
	vline(img, r.Min.X, r.Min.Y, r.Max.Y, c)
	vline(img, r.Max.X, r.Min.Y, r.Max.Y, c)
}

func dot(img *image.RGBA, p image.Point, c color.RGBA) {
	fill(img, image.Rect(p.X-2, p.Y-2, p.X+3, p.Y+3), c)
}

// line draws a two-pixel-wide segment from a to b (Bresenham).
func line(img *image.RGBA, a, b image.Point, c color.RGBA) {
	dx, dy := abs(b.X-a.X), -abs(b.Y-a.Y)
	sx, sy := sign(b.X-a.X), sign(b.Y-a.Y)
	e := dx + dy
	x, y := a.X, a.Y
	for {
		img.SetRGBA(x, y, c)
		img.SetRGBA(x+1, y, c)
		img.SetRGBA(x, y+1, c)
		if x == b.X && y == b.Y {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x += sx
		}
		if e2 <= dx {
			e += dx
			y += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

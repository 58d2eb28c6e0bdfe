package loadtest

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one line of a chart: Values[i] is plotted at x = i + 0.5 (the
// middle of the i-th one-second bucket). NaN and infinite values are left
// out.
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
// sharing the x axis (seconds); each panel has its own legend.
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

var grey = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}

// dpi is the resolution the chart is rendered at: a pixel is 1/96 inch.
const dpi = 96

// WriteChart draws c as a PNG to w with gonum.org/v1/plot. A zero size means
// 960 pixels wide and 540 high for one panel, 300 more per further panel. It
// returns an error if c has no series or is smaller than 320 pixels wide and
// 200 high per panel.
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
	n := 1
	for _, p := range c.Panels {
		for _, s := range p.Series {
			n = max(n, len(s.Values))
		}
	}
	plots := make([][]*plot.Plot, len(c.Panels))
	for i, p := range c.Panels {
		pl, err := panel(p, n)
		if err != nil {
			return err
		}
		if i == 0 {
			pl.Title.Text = c.Title
		}
		if i == len(c.Panels)-1 {
			pl.X.Label.Text = c.XLabel
		}
		plots[i] = []*plot.Plot{pl}
	}

	px := func(v int) vg.Length { return vg.Length(v) * vg.Inch / dpi }
	img := vgimg.NewWith(vgimg.UseWH(px(width), px(height)), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 8, PadY: 12}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// panel builds the plot of one panel over the x range [0, n] seconds.
func panel(p Panel, n int) (*plot.Plot, error) {
	pl := plot.New()
	pl.Y.Label.Text = p.YLabel
	pl.X.Min, pl.X.Max = 0, float64(n)
	pl.Legend.Top = true
	pl.Legend.XOffs = -8
	pl.Add(plotter.NewGrid())

	ymax := p.RefValue
	for _, s := range p.Series {
		var pts plotter.XYs
		for i, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(i) + 0.5, Y: v})
			ymax = max(ymax, v)
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("loadtest: series %q: %w", s.Name, err)
		}
		line.Color, line.Width = s.Color, vg.Points(1.5)
		points.Color, points.Shape, points.Radius = s.Color, draw.CircleGlyph{}, vg.Points(2)
		pl.Add(line, points)
		pl.Legend.Add(s.Name, line, points)
	}
	if p.RefValue > 0 {
		ref, err := plotter.NewLine(plotter.XYs{{X: 0, Y: p.RefValue}, {X: float64(n), Y: p.RefValue}})
		if err != nil {
			return nil, fmt.Errorf("loadtest: reference line: %w", err)
		}
		ref.Color, ref.Width, ref.Dashes = grey, vg.Points(1), []vg.Length{vg.Points(5), vg.Points(5)}
		pl.Add(ref)
		if p.RefLabel != "" {
			pl.Legend.Add(p.RefLabel, ref)
		}
	}
	pl.Y.Min = 0
	// Room above the highest point for the legend.
	pl.Y.Max = max(ymax*1.25, 1)
	return pl, nil
}

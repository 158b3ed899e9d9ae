// image.h — a small RGB canvas and the figures anila draws: heatmaps of 2D
// densities, histograms of 2D samples, text labels, panels side by side; PNG I/O.
//
// Images are 8-bit RGB, row-major, row 0 at the top. Heatmap arrays are
// indexed [iy, ix] with iy = 0 the *lowest* y (cell centres of the grid), and
// are drawn with y increasing upwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace anila::io {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class Image {
 public:
  Image() = default;
  Image(int width, int height, Rgb fill = {255, 255, 255});
  int width() const { return width_; }
  int height() const { return height_; }
  Rgb& at(int x, int y) { return pixels_[static_cast<size_t>(y) * width_ + x]; }
  const Rgb& at(int x, int y) const { return pixels_[static_cast<size_t>(y) * width_ + x]; }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(pixels_.data()); }
  // Copies `src` with its top-left corner at (x, y), clipped to this image.
  void paste(const Image& src, int x, int y);
  // Draws `text` (ASCII) with its top-left corner at (x, y); scale 1 is ~7 px tall.
  void text(int x, int y, const std::string& text, Rgb color = {0, 0, 0}, int scale = 1);
  void fill_rect(int x, int y, int w, int h, Rgb color);

 private:
  int width_ = 0, height_ = 0;
  std::vector<Rgb> pixels_;
};

// Size in pixels of `text` as Image::text draws it: width of the longest line
// (including the advance after its last glyph), height 9·scale for one line
// plus 12·scale per further '\n'-separated line. Empty text: 0.
int text_width(const std::string& text, int scale = 1);
int text_height(const std::string& text, int scale = 1);

// Perceptual colormap (viridis-like) for t in [0, 1].
Rgb colormap(double t);

// values: [ny, nx] (any float dtype), drawn as a size×size image, y upwards.
// Colour scale from min to max of the finite values (NaN/−inf drawn darkest).
Image heatmap(const at::Tensor& values, int size);

// A log-density [ny, nx] drawn over its top `range` nats: values below
// max − range are drawn darkest (so a peaked density still shows its shape).
Image log_heatmap(const at::Tensor& log_values, int size, double range = 12.0);

// Histogram image of points [n, 2] over the box, `bins`×`bins` bins, drawn as a
// size×size image (colour ~ sqrt of counts, white background where empty).
Image scatter_density(const at::Tensor& points, double xmin, double xmax, double ymin, double ymax,
                      int size, int bins = 100);

// A grid of images [N, C, H, W] (C = 1 or 3, values in [−1, 1], clamped) with
// `ncol` images per row and a 2-pixel white gutter, each pixel drawn as
// `scale`×`scale` pixels.
Image image_grid(const at::Tensor& images, int64_t ncol = 8, int scale = 1);

// A figure: rows of titled panels. Each panel has a title above it; each row
// an optional label on its left. All panels in a row are pasted left to right.
//
// Layout (white background; P = kFigurePad): the figure title (scale
// kFigureTitleScale, centred) and a gap of P at the top; then each row: a band
// of text_height("X") + P for panel titles (only when a panel of the row has a
// title), then the panels. Panels start at x = P (+ widest row label + P when
// labels are given) and are P apart; each takes a slot as wide as the wider of
// its image and its title, centred in the slot. Rows are P apart, P all round.
constexpr int kFigurePad = 4;
constexpr int kFigureTitleScale = 2;
struct Panel {
  std::string title;
  Image image;
};
Image compose(const std::vector<std::vector<Panel>>& rows,
              const std::vector<std::string>& row_labels = {}, const std::string& title = "");

// The PNG bytes of `image` (8-bit RGB); UserError naming `what` when it is
// empty or the encoder fails.
std::string encode_png(const Image& image, const std::string& what = "image");
// Writes a PNG atomically (temporary file + rename); UserError if it cannot.
void write_png(const Image& image, const std::string& path);
// Reads a PNG (for tests); UserError if missing or not a PNG.
Image read_png(const std::string& path);

}  // namespace anila::io

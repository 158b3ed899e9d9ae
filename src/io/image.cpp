// image.cpp — the RGB canvas, viridis colormap, heatmaps, 2D histograms, text
// (stb_easy_font quads rasterised into the canvas), figure layout and PNG I/O.
//
// Notation: an image is W×H pixels, (x, y) with y = 0 the top row. Grids of
// cells (heatmaps, histograms) are [ny, nx] indexed [iy, ix] with iy = 0 the
// lowest y, so cell row iy is drawn at the image row band counted from the bottom.
#include "anila/io/image.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <stb_image.h>
#include <stb_image_write.h>

// stb_easy_font is header-only with static functions, some of which we do not use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#include "anila/common.h"
#include "io/write_file.h"

namespace anila::io {

static_assert(sizeof(Rgb) == 3, "Image::data() hands stb packed RGB bytes");

namespace {

// stb_easy_font geometry at scale 1: glyph quads lie in rows [0, 9) of a line,
// and lines are 12 px apart.
constexpr int kGlyphHeight = 9;
constexpr int kLineAdvance = 12;

// Characters stb_easy_font can draw: printable ASCII; anything else becomes '?'.
std::string printable_ascii(const std::string& text) {
  std::string s = text;
  for (char& c : s) {
    if (c != '\n' && (c < 32 || c > 126)) c = '?';
  }
  return s;
}

// Maps pixel (px, py) of a size×size image to a cell of an [ny, nx] grid drawn y-upwards.
inline int cell_x(int px, int nx, int size) {
  return static_cast<int>(static_cast<int64_t>(px) * nx / size);
}
inline int cell_y(int py, int ny, int size) {
  return ny - 1 - static_cast<int>(static_cast<int64_t>(py) * ny / size);
}

// Draws an [ny, nx] grid of colours (cells[iy * nx + ix], iy = 0 lowest) as a size×size image.
Image draw_cells(const std::vector<Rgb>& cells, int ny, int nx, int size) {
  Image img(size, size);
  if (ny == 0 || nx == 0) return img;
  for (int py = 0; py < size; ++py) {
    const int iy = cell_y(py, ny, size);
    for (int px = 0; px < size; ++px) {
      img.at(px, py) = cells[static_cast<size_t>(iy) * nx + cell_x(px, nx, size)];
    }
  }
  return img;
}

}  // namespace

// ---- canvas ------------------------------------------------------------------

Image::Image(int width, int height, Rgb fill) : width_(width), height_(height) {
  TORCH_CHECK(width >= 0 && height >= 0, "Image: negative size ", width, "x", height);
  pixels_.assign(static_cast<size_t>(width) * height, fill);
}

void Image::paste(const Image& src, int x, int y) {
  const int x0 = std::max(0, x), y0 = std::max(0, y);
  const int x1 = std::min(width_, x + src.width()), y1 = std::min(height_, y + src.height());
  for (int yy = y0; yy < y1; ++yy) {
    for (int xx = x0; xx < x1; ++xx) at(xx, yy) = src.at(xx - x, yy - y);
  }
}

void Image::fill_rect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(0, x), y0 = std::max(0, y);
  const int x1 = std::min(width_, x + w), y1 = std::min(height_, y + h);
  for (int yy = y0; yy < y1; ++yy) {
    for (int xx = x0; xx < x1; ++xx) at(xx, yy) = color;
  }
}

void Image::text(int x, int y, const std::string& text, Rgb color, int scale) {
  TORCH_CHECK(scale >= 1, "Image::text: scale must be >= 1, got ", scale);
  if (text.empty()) return;
  std::string s = printable_ascii(text);
  // Each quad is 4 vertices of 16 bytes; grow the buffer until nothing is truncated.
  std::vector<char> buf(s.size() * 1024 + 1024);
  int quads = 0;
  for (;;) {
    quads =
        stb_easy_font_print(0.f, 0.f, s.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
    if (static_cast<size_t>(quads) * 64 + 64 <= buf.size()) break;
    buf.resize(buf.size() * 2);
  }
  for (int q = 0; q < quads; ++q) {
    float qx0 = std::numeric_limits<float>::max(), qy0 = qx0, qx1 = -qx0, qy1 = -qx0;
    for (int v = 0; v < 4; ++v) {
      const float* p = reinterpret_cast<const float*>(buf.data() + (q * 4 + v) * 16);
      qx0 = std::min(qx0, p[0]);
      qx1 = std::max(qx1, p[0]);
      qy0 = std::min(qy0, p[1]);
      qy1 = std::max(qy1, p[1]);
    }
    const int ix0 = static_cast<int>(std::lround(qx0)), iy0 = static_cast<int>(std::lround(qy0));
    const int ix1 = static_cast<int>(std::lround(qx1)), iy1 = static_cast<int>(std::lround(qy1));
    fill_rect(x + ix0 * scale, y + iy0 * scale, (ix1 - ix0) * scale, (iy1 - iy0) * scale, color);
  }
}

int text_width(const std::string& text, int scale) {
  std::string s = printable_ascii(text);
  return stb_easy_font_width(s.data()) * scale;
}

int text_height(const std::string& text, int scale) {
  if (text.empty()) return 0;
  const int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  return ((lines - 1) * kLineAdvance + kGlyphHeight) * scale;
}

// ---- colour ------------------------------------------------------------------

Rgb colormap(double t) {
  // viridis at t = 0, 1/8, ..., 1 (matplotlib's colormap, 9 equally spaced samples).
  static constexpr uint8_t kAnchors[9][3] = {
      {0x44, 0x01, 0x54}, {0x47, 0x2D, 0x7B}, {0x3B, 0x52, 0x8B},
      {0x2C, 0x72, 0x8E}, {0x21, 0x90, 0x8C}, {0x27, 0xAD, 0x81},
      {0x5D, 0xC8, 0x63}, {0xAA, 0xDC, 0x32}, {0xFD, 0xE7, 0x25}};
  if (!(t > 0.0)) t = 0.0;  // also NaN
  if (t > 1.0) t = 1.0;
  const double u = t * 8.0;
  const int i = std::min(7, static_cast<int>(u));
  const double f = u - i;
  auto mix = [&](int c) {
    return static_cast<uint8_t>(
        std::lround(kAnchors[i][c] + f * (kAnchors[i + 1][c] - kAnchors[i][c])));
  };
  return {mix(0), mix(1), mix(2)};
}

Image heatmap(const at::Tensor& values, int size) {
  TORCH_CHECK(values.dim() == 2, "heatmap: values must be [ny, nx], got ", values.sizes());
  TORCH_CHECK(size >= 1, "heatmap: size must be >= 1, got ", size);
  const at::Tensor v = values.detach().to(at::kCPU, at::kDouble).contiguous();
  const int ny = static_cast<int>(v.size(0)), nx = static_cast<int>(v.size(1));
  const double* p = v.data_ptr<double>();
  const int64_t n = v.numel();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(p[i])) {
      lo = std::min(lo, p[i]);
      hi = std::max(hi, p[i]);
    }
  }
  std::vector<Rgb> cells(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double t;
    if (std::isnan(p[i]) || p[i] == -std::numeric_limits<double>::infinity()) {
      t = 0.0;
    } else if (p[i] == std::numeric_limits<double>::infinity()) {
      t = 1.0;
    } else {
      t = hi > lo ? (p[i] - lo) / (hi - lo) : 0.5;  // a constant array is drawn mid-scale
    }
    cells[i] = colormap(t);
  }
  return draw_cells(cells, ny, nx, size);
}

Image log_heatmap(const at::Tensor& log_values, int size, double range) {
  const at::Tensor v = log_values.detach().to(at::kCPU, at::kDouble);
  const at::Tensor finite = v.masked_select(v.isfinite());
  if (finite.numel() == 0) return heatmap(v, size);
  return heatmap(v.clamp_min(finite.max().item<double>() - range), size);
}

Image scatter_density(const at::Tensor& points, double xmin, double xmax, double ymin, double ymax,
                      int size, int bins) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 2,
              "scatter_density: points must be [n, 2], got ", points.sizes());
  TORCH_CHECK(xmax > xmin && ymax > ymin, "scatter_density: empty box [", xmin, ", ", xmax, "]x[",
              ymin, ", ", ymax, "]");
  TORCH_CHECK(size >= 1 && bins >= 1, "scatter_density: size and bins must be >= 1");
  const at::Tensor pts = points.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* p = pts.data_ptr<double>();
  std::vector<int64_t> counts(static_cast<size_t>(bins) * bins, 0);
  for (int64_t i = 0; i < pts.size(0); ++i) {
    const double x = p[2 * i], y = p[2 * i + 1];
    // Points outside the closed box (and NaN) are not drawn; x == xmax falls in the last bin.
    if (!(x >= xmin && x <= xmax && y >= ymin && y <= ymax)) continue;
    const int bx = std::min(bins - 1, static_cast<int>((x - xmin) / (xmax - xmin) * bins));
    const int by = std::min(bins - 1, static_cast<int>((y - ymin) / (ymax - ymin) * bins));
    ++counts[static_cast<size_t>(by) * bins + bx];
  }
  const int64_t max_count = *std::max_element(counts.begin(), counts.end());
  std::vector<Rgb> cells(counts.size(), Rgb{255, 255, 255});
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) {
      cells[i] =
          colormap(std::sqrt(static_cast<double>(counts[i]) / static_cast<double>(max_count)));
    }
  }
  return draw_cells(cells, bins, bins, size);
}

// ---- figures -----------------------------------------------------------------

Image compose(const std::vector<std::vector<Panel>>& rows,
              const std::vector<std::string>& row_labels, const std::string& title) {
  const int pad = kFigurePad;
  int label_w = 0;
  for (const auto& l : row_labels) label_w = std::max(label_w, text_width(l));
  const int left = pad + (label_w > 0 ? label_w + pad : 0);

  // First pass: the size of every row.
  struct RowLayout {
    int title_h = 0, image_h = 0, width = 0;
    std::vector<int> slot_w;
  };
  std::vector<RowLayout> layout(rows.size());
  int width = 0, height = pad;
  const int title_h = text_height(title, kFigureTitleScale);
  if (title_h > 0) {
    width = std::max(width, 2 * pad + text_width(title, kFigureTitleScale));
    height += title_h + pad;
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    RowLayout& L = layout[r];
    int x = left;
    for (const Panel& panel : rows[r]) {
      if (!panel.title.empty()) L.title_h = text_height("X") + pad;
      const int w = std::max(panel.image.width(), text_width(panel.title));
      L.slot_w.push_back(w);
      L.image_h = std::max(L.image_h, panel.image.height());
      x += w + pad;
    }
    const std::string label = r < row_labels.size() ? row_labels[r] : "";
    L.image_h = std::max(L.image_h, text_height(label));
    L.width = x;
    width = std::max(width, x);
    height += L.title_h + L.image_h + pad;
  }
  width = std::max(width, 2 * pad);

  // Second pass: draw.
  Image fig(width, height);
  int y = pad;
  if (title_h > 0) {
    fig.text((width - text_width(title, kFigureTitleScale)) / 2, y, title, {0, 0, 0},
             kFigureTitleScale);
    y += title_h + pad;
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    const RowLayout& L = layout[r];
    if (r < row_labels.size() && !row_labels[r].empty()) {
      fig.text(pad, y + L.title_h + (L.image_h - text_height(row_labels[r])) / 2, row_labels[r]);
    }
    int x = left;
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const Panel& panel = rows[r][c];
      const int w = L.slot_w[c];
      fig.text(x + (w - text_width(panel.title)) / 2, y, panel.title);
      fig.paste(panel.image, x + (w - panel.image.width()) / 2, y + L.title_h);
      x += w + pad;
    }
    y += L.title_h + L.image_h + pad;
  }
  return fig;
}

// ---- PNG ---------------------------------------------------------------------

std::string encode_png(const Image& image, const std::string& what) {
  if (image.width() == 0 || image.height() == 0) throw UserError(what + ": the image is empty");
  std::string bytes;
  auto sink = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  };
  if (!stbi_write_png_to_func(sink, &bytes, image.width(), image.height(), /*comp=*/3, image.data(),
                              /*stride_in_bytes=*/image.width() * 3)) {
    throw UserError(what + ": PNG encoding failed");
  }
  return bytes;
}

void write_png(const Image& image, const std::string& path) {
  const std::string bytes = encode_png(image, "cannot write PNG " + path);
  detail::write_file_atomic(path, {std::string_view(bytes)}, "PNG ");
}

Image read_png(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, /*desired_channels=*/3);
  if (!data) {
    const char* reason = stbi_failure_reason();
    throw UserError("cannot read PNG " + path + ": " + (reason ? reason : "unknown error"));
  }
  Image img(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const unsigned char* p = data + (static_cast<size_t>(y) * w + x) * 3;
      img.at(x, y) = {p[0], p[1], p[2]};
    }
  }
  stbi_image_free(data);
  return img;
}

Image image_grid(const at::Tensor& images, int64_t ncol, int scale) {
  TORCH_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
              "image_grid: expected [N, 1|3, H, W], got ", images.sizes());
  TORCH_CHECK(ncol >= 1 && scale >= 1, "image_grid: ncol and scale must be >= 1");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t cols = std::min(ncol, std::max<int64_t>(n, 1));
  const int64_t rows = (n + cols - 1) / cols;
  constexpr int kGutter = 2;
  Image out(static_cast<int>(cols * (w * scale + kGutter) + kGutter),
            static_cast<int>(rows * (h * scale + kGutter) + kGutter));
  // [N, H, W, C] bytes.
  at::Tensor bytes = ((images.detach().to(at::kCPU, at::kFloat).clamp(-1, 1) + 1) * 127.5)
                         .round()
                         .to(at::kByte)
                         .permute({0, 2, 3, 1})
                         .contiguous();
  const uint8_t* px = bytes.data_ptr<uint8_t>();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t x0 = kGutter + (k % cols) * (w * scale + kGutter);
    const int64_t y0 = kGutter + (k / cols) * (h * scale + kGutter);
    for (int64_t y = 0; y < h * scale; ++y) {
      for (int64_t x = 0; x < w * scale; ++x) {
        const uint8_t* p = px + ((k * h + y / scale) * w + x / scale) * c;
        out.at(static_cast<int>(x0 + x), static_cast<int>(y0 + y)) =
            c == 1 ? Rgb{p[0], p[0], p[0]} : Rgb{p[0], p[1], p[2]};
      }
    }
  }
  return out;
}

}  // namespace anila::io

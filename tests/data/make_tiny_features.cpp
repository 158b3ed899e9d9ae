// make_tiny_features.cpp — writes tests/data/tiny_features.pt, the tiny TorchScript
// feature extractor used by tests/test_features.cpp (Python torch is not needed).
//
// Built and run once, from the repository root, with (two commands):
//   /tmp/tcmd.sh /tmp/feat/make_tiny tests/data/make_tiny_features.cpp
//   /tmp/feat/make_tiny tests/data/tiny_features.pt
// where tcmd.sh is `ccache g++ -std=c++17 -O1 -I/usr/include/torch/csrc/api/include ...
// -ltorch -ltorch_cpu -lc10` (any LibTorch build works; the file is ~2.5 KB).
//
// The module (notation: N images, 3 channels, S×S pixels, S ≥ 2):
//   forward(x: [N, 3, S, S]) -> (features [N, 8], m [N, 3])
//   m        = mean of x over H, W                                [N, 3]
//   features = cat(m @ weight^T + bias,   5 values                [N, 5]
//                  x[:, :, 1, 0])         pixel (row 1, column 0) [N, 3]
//   weight [5, 3] = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, -2, 0.5]]
//   bias   [5]    = [0, 0, 0, 0.5, -1]
// It returns a tuple so that the loader's "first tensor of a tuple" rule is exercised.
// The test derives every expected feature from these numbers by hand.
#include <iostream>
#include <string>

#include <torch/script.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_tiny_features OUT.pt\n";
    return 2;
  }
  torch::jit::Module module("__torch__.TinyFeatures");
  const at::Tensor weight = torch::tensor({1.0f, 0.0f, 0.0f,  //
                                           0.0f, 1.0f, 0.0f,  //
                                           0.0f, 0.0f, 1.0f,  //
                                           1.0f, 1.0f, 1.0f,  //
                                           1.0f, -2.0f, 0.5f})
                                .reshape({5, 3});
  const at::Tensor bias = torch::tensor({0.0f, 0.0f, 0.0f, 0.5f, -1.0f});
  module.register_parameter("weight", weight, /*is_buffer=*/false);
  module.register_parameter("bias", bias, /*is_buffer=*/false);
  module.define(R"(
def forward(self, x):
    m = x.mean(dim=[2, 3])
    lin = torch.matmul(m, self.weight.t()) + self.bias
    corner = x[:, :, 1, 0]
    return torch.cat([lin, corner], dim=1), m
)");
  module.save(argv[1]);
  std::cout << "wrote " << argv[1] << "\n";
  return 0;
}

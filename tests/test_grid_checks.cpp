// test_grid_checks.cpp — the 2D grid normaliser's checks: mass on the box border
// and log Z at half resolution (eval/grid2d.h, check_grid).
//
// Reference: an isotropic Gaussian f = −|x|²/(2σ²) at T = 1 has log Z = log(2πσ²)
// and mass outside radius r of exp(−r²/(2σ²)).
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/eval/grid2d.h"

using namespace anila;

namespace {

eval::ScalarField gaussian(double sd) {
  return [sd](const at::Tensor& x) { return -x.pow(2).sum(1) / (2 * sd * sd); };
}

eval::GridCheck check(double sd, double half_width, int64_t resolution) {
  eval::Grid2D grid;
  grid.box = {-half_width, half_width, -half_width, half_width};
  grid.resolution = resolution;
  const eval::GridDensity model = eval::grid_density(gaussian(sd), 1.0, grid);
  return eval::check_grid(gaussian(sd), 1.0, grid, model);
}

TEST(GridCheck, AWellSizedGridPasses) {
  const eval::GridCheck c = check(1.0, 6.0, 256);
  EXPECT_LT(c.border_mass, 1e-6);
  EXPECT_NEAR(c.log_z_half, std::log(2 * M_PI), 1e-3);
  EXPECT_TRUE(c.warning.empty()) << c.warning;
}

TEST(GridCheck, WarnsWhenTheBoxCutsOffMass) {
  // Half-width 1 sd at R = 128: the outer ring of cells holds about 2% of the mass.
  const eval::GridCheck c = check(1.0, 1.0, 128);
  EXPECT_GT(c.border_mass, 1e-2);
  EXPECT_NE(c.warning.find("too small"), std::string::npos) << c.warning;
  EXPECT_NE(c.warning.find("eval.box"), std::string::npos) << c.warning;
}

TEST(GridCheck, WarnsWhenTheGridIsTooCoarse) {
  // sd 0.02 on [−3, 3] at R = 64: cells of 0.09, so log Z is a few cells' guess.
  const eval::GridCheck c = check(0.02, 3.0, 64);
  EXPECT_LT(c.border_mass, 1e-6);
  EXPECT_NE(c.warning.find("too coarse"), std::string::npos) << c.warning;
  EXPECT_NE(c.warning.find("eval.resolution"), std::string::npos) << c.warning;
}

}  // namespace

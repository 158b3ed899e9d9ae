// registry.cpp — the table of sampler types (see anila/samplers/registry.h).
//
// Adding a sampler: write include/anila/samplers/<name>.h and
// src/samplers/<name>.cpp (its class and its `<name>_spec()`), include the
// header here and add one line to the table (docs/adding-a-sampler.md).
#include "anila/samplers/registry.h"

#include <algorithm>

#include "anila/config.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/anila_ito.h"
#include "anila/samplers/anila_mh.h"
#include "anila/samplers/gd.h"
#include "anila/samplers/hmc.h"
#include "anila/samplers/langevin.h"
#include "anila/samplers/mala.h"
#include "anila/samplers/rwm.h"

namespace anila {

const std::vector<SamplerSpec>& sampler_registry() {
  static const std::vector<SamplerSpec> table = {
      langevin_spec(),   //
      anila_spec(),      //
      mala_spec(),       //
      anila_mh_spec(),   //
      hmc_spec(),        //
      gd_spec(),         //
      rwm_spec(),        //
      anila_ito_spec(),  //
  };
  return table;
}

const SamplerSpec& sampler_spec(const std::string& type, const std::string& what) {
  const auto& table = sampler_registry();
  auto it = std::find_if(table.begin(), table.end(),
                         [&](const SamplerSpec& s) { return s.type == type; });
  if (it != table.end()) return *it;
  std::vector<std::string> names;
  for (const auto& s : table) names.push_back(s.type);
  const std::string hint = closest_match(type, names);
  throw UserError(what + ": unknown sampler \"" + type + "\"" +
                  (hint.empty() ? "" : " (did you mean " + hint + "?)") +
                  "; allowed: " + join(names));
}

}  // namespace anila

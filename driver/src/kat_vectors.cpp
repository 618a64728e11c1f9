// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/kat_vectors.hpp"

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace espo::driver {
namespace {

Result<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError(Errc::kIo, path + ": cannot open");
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return MakeError(Errc::kParse, path + ": not valid JSON");
  return doc;
}

Result<Bytes> Hex(const nlohmann::json& v, const char* field, const std::string& where) {
  if (!v.contains(field) || !v[field].is_string()) {
    return MakeError(Errc::kParse, where + ": missing string field '" + field + "'");
  }
  return FromHex(v[field].get<std::string>(), where + "." + field);
}

Bytes Concat(const Bytes& a, const Bytes& b) {
  Bytes out(a);
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

Result<std::vector<GcmVector>> LoadGcmVectors(const std::string& data_dir) {
  std::vector<GcmVector> out;
  {
    const std::string path = data_dir + "/gcm_vectors.json";
    ESPO_ASSIGN_OR_RETURN(const nlohmann::json doc, ReadJson(path));
    for (const auto& v : doc.at("vectors")) {
      GcmVector g;
      g.name = v.at("name").get<std::string>();
      const std::string where = path + ":" + g.name;
      g.mode = "gcm";
      g.aes_bits = v.at("aes_bits").get<int>();
      g.iv_is_96bit = v.at("iv_is_96bit").get<bool>();
      ESPO_ASSIGN_OR_RETURN(g.key, Hex(v, "key", where));
      ESPO_ASSIGN_OR_RETURN(g.iv, Hex(v, "iv", where));
      ESPO_ASSIGN_OR_RETURN(g.aad, Hex(v, "aad", where));
      ESPO_ASSIGN_OR_RETURN(g.pt, Hex(v, "pt", where));
      ESPO_ASSIGN_OR_RETURN(g.ct, Hex(v, "ct", where));
      ESPO_ASSIGN_OR_RETURN(g.tag, Hex(v, "tag", where));
      out.push_back(std::move(g));
    }
  }
  {
    const std::string path = data_dir + "/rfc4106_vectors.json";
    ESPO_ASSIGN_OR_RETURN(const nlohmann::json doc, ReadJson(path));
    for (const auto& v : doc.at("vectors")) {
      GcmVector g;
      g.name = v.at("name").get<std::string>();
      const std::string where = path + ":" + g.name;
      g.mode = v.at("mode").get<std::string>();
      g.valid = v.at("valid").get<bool>();
      g.aes_bits = v.at("aes_bits").get<int>();
      ESPO_ASSIGN_OR_RETURN(g.key, Hex(v, "key", where));
      ESPO_ASSIGN_OR_RETURN(const Bytes salt, Hex(v, "salt", where));
      ESPO_ASSIGN_OR_RETURN(const Bytes esp_iv, Hex(v, "iv", where));
      ESPO_ASSIGN_OR_RETURN(const Bytes aad, Hex(v, "aad", where));
      ESPO_ASSIGN_OR_RETURN(const Bytes pt, Hex(v, "pt", where));
      ESPO_ASSIGN_OR_RETURN(g.ct, Hex(v, "ct", where));
      ESPO_ASSIGN_OR_RETURN(g.tag, Hex(v, "tag", where));
      g.iv = Concat(salt, esp_iv);
      if (g.mode == "rfc4543") {
        g.aad = Concat(Concat(aad, esp_iv), pt);  // GMAC: payload authenticated, not encrypted
        g.ct.clear();
      } else {
        g.aad = aad;
        g.pt = pt;
      }
      out.push_back(std::move(g));
    }
  }
  return out;
}

}  // namespace espo::driver

// The image records: ROOT/images.json, {"images": [RECORD, ...]}, replaced
// atomically under the "images" lock; read without it (a reader sees the
// old or the new file).

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>

#include "digest.hpp"
#include "store.hpp"
#include "store_files.hpp"

namespace rrun::image {

namespace {

using nlohmann::json;

// Thousands of images fit in far less; more is not a file rrun wrote.
constexpr size_t kRecordsLimit = 16 << 20;
// touch_image() rewrites images.json at most this often per image: a
// cached `image:` start pays for it, and `rrun images` shows minutes.
constexpr int64_t kTouchResolution = 60;
constexpr size_t kMinIdPrefix = 4;

std::string records_path(const Store& s) {
  return s.root() + "/images.json";
}

const json& field(const json& j, const char* key, json::value_t type, const std::string& at) {
  auto it = j.find(key);
  bool ok = it != j.end() && (it->type() == type || (type == json::value_t::number_unsigned &&
                                                     it->is_number_integer() && it->get<int64_t>() >= 0));
  if (!ok) throw os::Error(at + "." + key + ": missing or of the wrong type");
  return *it;
}

std::string string_field(const json& j, const char* key, const std::string& at) {
  return field(j, key, json::value_t::string, at).get<std::string>();
}

std::string digest_field(const json& j, const char* key, const std::string& at) {
  std::string d = string_field(j, key, at);
  check_digest(d, at + "." + key);  // digests become file names
  return d;
}

uint64_t size_field(const json& j, const char* key, const std::string& at) {
  return field(j, key, json::value_t::number_unsigned, at).get<uint64_t>();
}

int64_t time_field(const json& j, const char* key, const std::string& at) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) throw os::Error(at + "." + key + ": missing or not an integer");
  return it->get<int64_t>();
}

LayerRef layer_from_json(const json& j, const std::string& at) {
  if (!j.is_object()) throw os::Error(at + ": expected an object");
  LayerRef l;
  l.digest = digest_field(j, "digest", at);
  l.media_type = string_field(j, "media_type", at);
  l.size = size_field(j, "size", at);
  l.diff_id = string_field(j, "diff_id", at);
  if (!l.diff_id.empty()) check_digest(l.diff_id, at + ".diff_id");
  return l;
}

ImageRecord record_from_json(const json& j, const std::string& at) {
  if (!j.is_object()) throw os::Error(at + ": expected an object");
  ImageRecord r;
  r.name = string_field(j, "name", at);
  if (r.name.empty()) throw os::Error(at + ".name: empty");
  r.manifest_digest = digest_field(j, "manifest_digest", at);
  r.config_digest = digest_field(j, "config_digest", at);
  const json& layers = field(j, "layers", json::value_t::array, at);
  for (size_t i = 0; i < layers.size(); ++i)
    r.layers.push_back(layer_from_json(layers[i], at + ".layers[" + std::to_string(i) + "]"));
  r.size = size_field(j, "size", at);
  r.pulled = time_field(j, "pulled", at);
  r.last_used = time_field(j, "last_used", at);
  return r;
}

json to_json(const ImageRecord& r) {
  json layers = json::array();
  for (const LayerRef& l : r.layers)
    layers.push_back({{"digest", l.digest}, {"media_type", l.media_type}, {"size", l.size}, {"diff_id", l.diff_id}});
  return {{"name", r.name},
          {"manifest_digest", r.manifest_digest},
          {"config_digest", r.config_digest},
          {"layers", std::move(layers)},
          {"size", r.size},
          {"pulled", r.pulled},
          {"last_used", r.last_used}};
}

std::vector<ImageRecord> parse_records(const std::string& text) {
  json doc = json::parse(text);  // throws json::parse_error, named by the caller
  if (!doc.is_object()) throw os::Error("expected an object");
  const json& list = field(doc, "images", json::value_t::array, "");
  std::vector<ImageRecord> out;
  for (size_t i = 0; i < list.size(); ++i)
    out.push_back(record_from_json(list[i], "images[" + std::to_string(i) + "]"));
  return out;
}

std::vector<ImageRecord> read_records(const Store& s) {
  std::string path = records_path(s);
  std::string text;
  try {
    text = store_files::read_bounded(path, kRecordsLimit, "image records");
  } catch (const os::SystemError& e) {
    if (e.err() == ENOENT) return {};
    throw;
  }
  try {
    return parse_records(text);
  } catch (const std::exception& e) {
    throw os::Error("image records " + os::quote(path) + ": " + e.what() +
                    "; remove the file to start again (the blobs stay until `rrun prune`)");
  }
}

void write_records(const Store& s, const std::vector<ImageRecord>& records) {
  json list = json::array();
  for (const ImageRecord& r : records) list.push_back(to_json(r));
  json doc = {{"images", std::move(list)}};
  store_files::write_atomic(s.root() + "/tmp", records_path(s), doc.dump(1) + "\n");
}

bool hex_prefix(const std::string& s) {
  return s.size() >= kMinIdPrefix && s.size() <= 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The records `name_or_id` names: the one with that name, else those whose
// manifest digest starts with the hex prefix (with or without "sha256:").
// Several names of one image (the same manifest) are one match; several
// images are an error listing them.
std::vector<size_t> match(const std::vector<ImageRecord>& records, const std::string& name_or_id) {
  for (size_t i = 0; i < records.size(); ++i)
    if (records[i].name == name_or_id) return {i};
  std::string prefix = name_or_id.rfind("sha256:", 0) == 0 ? name_or_id.substr(7) : name_or_id;
  if (!hex_prefix(prefix)) return {};
  std::vector<size_t> found;
  for (size_t i = 0; i < records.size(); ++i)
    if (digest_hex(records[i].manifest_digest).rfind(prefix, 0) == 0) found.push_back(i);
  for (size_t i : found) {
    if (records[i].manifest_digest == records[found[0]].manifest_digest) continue;
    std::string list;
    for (size_t k : found)
      list += (list.empty() ? "" : ", ") + records[k].name + " (" +
              digest_hex(records[k].manifest_digest).substr(0, 12) + ")";
    throw os::Error("image ID " + prefix + " is ambiguous: it matches " + list + "; give more digits or a name");
  }
  return found;
}

void check_blobs_present(const Store& s, const ImageRecord& r) {
  std::vector<std::string> digests = {r.manifest_digest, r.config_digest};
  for (const LayerRef& l : r.layers) digests.push_back(l.digest);
  for (const std::string& d : digests)
    if (!s.has_blob(d))
      throw os::Error("image " + r.name + ": blob " + d +
                      " is not in the store (removed by a concurrent prune?): pull again");
}

int64_t now() {
  return static_cast<int64_t>(::time(nullptr));
}

}  // namespace

std::vector<ImageRecord> Store::images() const {
  return read_records(*this);
}

std::optional<ImageRecord> Store::find_image(const std::string& name_or_id) const {
  std::vector<ImageRecord> records = read_records(*this);
  std::vector<size_t> found = match(records, name_or_id);
  if (found.empty()) return std::nullopt;
  return records[found[0]];
}

void Store::record_image(const ImageRecord& r) const {
  check_digest(r.manifest_digest, "image " + r.name + ": manifest digest");
  check_digest(r.config_digest, "image " + r.name + ": config digest");
  for (const LayerRef& l : r.layers) check_digest(l.digest, "image " + r.name + ": layer digest");
  // A prune must not run between the check of the blobs the pull found and
  // this record: it could remove them as unreferenced.
  hold_against_prune();
  check_blobs_present(*this, r);
  ImageRecord rec = r;
  if (rec.pulled == 0) rec.pulled = now();
  if (rec.last_used == 0) rec.last_used = rec.pulled;
  {
    os::UniqueFd held = lock("images");
    std::vector<ImageRecord> records = read_records(*this);
    bool replaced = false;
    for (ImageRecord& old : records)
      if (old.name == rec.name) {
        old = rec;
        replaced = true;
      }
    if (!replaced) records.push_back(rec);
    write_records(*this, records);
  }
  prune_guard_.reset();  // everything this Store wrote is referenced now
}

void Store::touch_image(const std::string& name) const {
  int64_t t = now();
  auto needs_touch = [&](const std::vector<ImageRecord>& records) {
    for (const ImageRecord& r : records)
      if (r.name == name) return t - r.last_used >= kTouchResolution || t < r.last_used;
    return false;
  };
  // Read without the lock first: a start right after another one writes nothing.
  if (!needs_touch(read_records(*this))) return;
  os::UniqueFd held = lock("images");
  std::vector<ImageRecord> records = read_records(*this);
  if (!needs_touch(records)) return;
  for (ImageRecord& r : records)
    if (r.name == name) r.last_used = t;
  write_records(*this, records);
}

bool Store::remove_image(const std::string& name_or_id) const {
  os::UniqueFd held = lock("images");
  std::vector<ImageRecord> records = read_records(*this);
  std::vector<size_t> found = match(records, name_or_id);
  if (found.empty()) return false;
  // By ID, every name of that image goes: the ID names the image, not a tag.
  std::vector<ImageRecord> kept;
  for (size_t i = 0; i < records.size(); ++i)
    if (std::find(found.begin(), found.end(), i) == found.end()) kept.push_back(std::move(records[i]));
  write_records(*this, kept);
  return true;
}

}  // namespace rrun::image

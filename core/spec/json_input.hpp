#pragma once
// Parsing JSON that rrun did not write itself: config.json, `exec --process`,
// `update --resources`, seccomp profiles, image manifests, indexes and
// configs, registry auth files. Every such parse goes through
// parse_json_input, which differs from nlohmann's own parse in two ways:
//
// - Nesting is bounded (kMaxJsonDepth). nlohmann parses any depth without
//   recursion, but dump(), our readers and the value's destruction recurse:
//   a config.json nested 100,000 levels deep in an unknown member overflowed
//   the stack. The bound is checked as the document is built (a counter in
//   the SAX handler below), so it costs nothing on the way.
// - Members of an ordered_json object are added in constant time. nlohmann's
//   ordered_map looks every new key up by a linear scan, which made an
//   object of n members cost n^2/2 comparisons (200,000 annotations: 58 s).
//   Here small objects are scanned as before and larger ones get a hash
//   index while they are built; a repeated key keeps its first place and
//   takes the last value, as with nlohmann's parse.
//
// Syntax errors are thrown as BasicJson::parse_error, as by
// BasicJson::parse, so callers keep their messages; a too deep document is
// an os::Error naming `name` and the limit.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>

namespace rrun::spec {

inline constexpr size_t kMaxJsonDepth = 512;

[[noreturn]] void throw_json_too_deep(const std::string& name, size_t max_depth);

namespace json_detail {

// A nlohmann SAX handler that builds the document (what nlohmann's
// json_sax_dom_parser does) with the two differences above.
template <class J>
class Builder {
 public:
  using number_integer_t = typename J::number_integer_t;
  using number_unsigned_t = typename J::number_unsigned_t;
  using number_float_t = typename J::number_float_t;
  using string_t = typename J::string_t;
  using binary_t = typename J::binary_t;

  Builder(J& root, const std::string& name, size_t max_depth) : root_(root), name_(name), max_depth_(max_depth) {}

  bool null() { return put(J(nullptr)); }
  bool boolean(bool v) { return put(J(v)); }
  bool number_integer(number_integer_t v) { return put(J(v)); }
  bool number_unsigned(number_unsigned_t v) { return put(J(v)); }
  bool number_float(number_float_t v, const string_t&) { return put(J(v)); }
  bool string(string_t& v) { return put(J(std::move(v))); }
  bool binary(binary_t& v) { return put(J::binary(std::move(v))); }

  bool start_object(size_t) { return open(J::value_t::object); }
  bool start_array(size_t) { return open(J::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& k) {
    Frame& f = stack_.back();
    auto& obj = f.value->template get_ref<typename J::object_t&>();
    if constexpr (kOrdered) {
      f.slot = member_slot(f, obj, k);
    } else {
      f.slot = &obj[std::move(k)];
    }
    return true;
  }

  template <class Exception>
  bool parse_error(size_t, const std::string&, const Exception& ex) {
    throw ex;
  }

 private:
  static constexpr bool kOrdered = std::is_same_v<J, nlohmann::ordered_json>;
  static constexpr size_t kIndexFrom = 16;  // members before an object gets an index

  struct Frame {
    J* value;
    J* slot = nullptr;                                               // the member the next value goes to (objects)
    std::unique_ptr<std::unordered_map<std::string, size_t>> index;  // member positions, once large
  };

  // Stores `v` where a value read now belongs: the root, the array's end,
  // the slot of the object's last key.
  J* place(J&& v) {
    if (stack_.empty()) return &(root_ = std::move(v));
    Frame& f = stack_.back();
    if (f.value->is_array()) {
      auto& array = f.value->template get_ref<typename J::array_t&>();
      return &array.emplace_back(std::move(v));
    }
    return &(*f.slot = std::move(v));
  }

  bool put(J&& v) {
    place(std::move(v));
    return true;
  }

  bool open(typename J::value_t type) {
    if (stack_.size() >= max_depth_) throw_json_too_deep(name_, max_depth_);
    stack_.push_back(Frame{place(J(type)), nullptr, nullptr});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  template <class Object>
  J* member_slot(Frame& f, Object& obj, string_t& k) {
    // ordered_map is a vector of pairs: append without its linear lookup.
    using Base = typename Object::Container;
    Base& members = obj;
    if (members.size() < kIndexFrom) {
      for (auto& m : members)
        if (m.first == k) return &m.second;
      members.emplace_back(std::move(k), J());
      return &members.back().second;
    }
    if (!f.index) {
      f.index = std::make_unique<std::unordered_map<std::string, size_t>>();
      for (size_t i = 0; i < members.size(); ++i) f.index->emplace(members[i].first, i);
    }
    auto [it, added] = f.index->emplace(k, members.size());
    if (!added) return &members[it->second].second;
    members.emplace_back(std::move(k), J());
    return &members.back().second;
  }

  J& root_;
  const std::string& name_;
  size_t max_depth_;
  std::vector<Frame> stack_;
};

}  // namespace json_detail

// Parses `text` (see above). `name` is what a depth error calls the input:
// "config.json", "--process `p.json`", a file's path.
template <class J = nlohmann::json>
J parse_json_input(std::string_view text, const std::string& name, size_t max_depth = kMaxJsonDepth) {
  J root;
  json_detail::Builder<J> builder(root, name, max_depth);
  // nlohmann's parser itself, not J::sax_parse: that one picks the format
  // at run time, so it brings the CBOR/MessagePack/UBJSON/BSON readers
  // along (+115 KB of text, and libm for CBOR's half floats: ~450 KiB more
  // peak RSS on every `rrun run`, bench.peak_rss).
  auto input = nlohmann::detail::input_adapter(text.begin(), text.end());
  nlohmann::detail::parser<J, decltype(input)>(std::move(input), nullptr, true, false).sax_parse(&builder, true);
  return root;
}

}  // namespace rrun::spec

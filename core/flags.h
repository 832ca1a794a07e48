// core/flags.h — command-line flags for margin's binaries: `--name value` or `--name=value`,
// each declared once with its default and help text, so `--help` lists them all.
//
//   Flags flags("train_tiny", "Trains a 2-layer network on two rings.");
//   int steps = flags.add("steps", 500, "training steps");
//   flags.parse(argc, argv);   // prints help and exits on --help; throws on unknown flags
//
// add() returns a reference to the value, which the Flags object owns and parse() fills in:
// keep the Flags object alive as long as the references are used. Values are strings,
// booleans, numbers or comma-separated integer lists (std::vector<int64_t>: --widths 32,64). bind() fills in a variable
// of the caller's instead (binaries that share a config struct declare its flags once); a
// std::optional<T> variable stays unset unless the flag is given, and its help says what
// unset means.
#pragma once
#include <any>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace margin {

class Flags {
 public:
  Flags(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  template <class T>
  T& add(const std::string& name, T default_value, const std::string& help) {
    T* storage = std::any_cast<T>(&values_.emplace_back(default_value));  // deque: never moves
    bind(name, *storage, help);
    return *storage;
  }

  // Like add(), but the value lives in `target` (e.g. a field of a config struct), whose
  // current value is the default; `target` must outlive parse().
  template <class T>
  void bind(const std::string& name, T& target, const std::string& help) {
    Entry& entry = declare<T>(name, help, text_of(target));
    entry.assign = [&target, name](const std::string& value) { target = parse_value<T>(name, value); };
  }
  template <class T>
  void bind(const std::string& name, std::optional<T>& target, const std::string& help) {
    Entry& entry = declare<T>(name, help, target ? std::optional(text_of(*target)) : std::nullopt);
    entry.assign = [&target, name](const std::string& value) { target = parse_value<T>(name, value); };
  }

  // --device cpu|cuda|cuda:N: parse() makes it the default device, where tensors and
  // parameters are made (set_default_device). Without it the build's default stays: CUDA
  // when margin was built with it and a GPU is present, else the CPU.
  void add_device_flag() {
    bind("device", device_, "cpu, cuda or cuda:N: where tensors and parameters are made "
         "(default: CUDA when built with it and a GPU is present, else cpu)");
  }

  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        print_help(std::cout);
        std::exit(0);
      }
      if (arg.rfind("--", 0) != 0) fail("unexpected argument '", arg, "' (see --help)");
      std::string name = arg.substr(2), value;
      size_t equals = name.find('=');
      Entry* entry = nullptr;
      if (equals != std::string::npos) {
        value = name.substr(equals + 1);
        name = name.substr(0, equals);
        entry = find(name);
      } else {
        entry = find(name);
        if (entry && entry->is_bool) value = "true";
        else if (i + 1 < argc) value = argv[++i];
        else fail("flag --", name, " needs a value (see --help)");
      }
      if (!entry) fail("unknown flag --", name, " (see --help)");
      entry->assign(value);
    }
    if (device_) set_default_device(parse_device(*device_));
  }

  void print_help(std::ostream& out) const {
    out << "usage: " << program_ << " [flags]\n\n" << summary_ << "\n\nflags:\n";
    for (const Entry& e : entries_) {
      out << "  --" << e.name << std::string(e.name.size() < 16 ? 16 - e.name.size() : 1, ' ') << e.help;
      if (e.default_text) out << " (default: " << (e.default_text->empty() ? "\"\"" : *e.default_text) << ")";
      out << "\n";
    }
    out << "  --help            this text\n";
  }

 private:
  struct Entry {
    std::string name, help;
    std::optional<std::string> default_text;  // none: an optional flag, whose help says what unset means
    std::function<void(const std::string&)> assign;
    bool is_bool = false;
  };

  template <class T>
  Entry& declare(const std::string& name, const std::string& help, std::optional<std::string> default_text) {
    Entry& entry = entries_.emplace_back();
    entry.name = name;
    entry.help = help;
    entry.default_text = std::move(default_text);
    entry.is_bool = std::is_same_v<T, bool>;
    return entry;
  }

  template <class T>
  static std::string text_of(const T& value) {
    std::ostringstream text;
    if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      for (size_t i = 0; i < value.size(); ++i) text << (i ? "," : "") << value[i];
    } else {
      text << std::boolalpha << value;
    }
    return text.str();
  }

  template <class T>
  static T parse_value(const std::string& name, const std::string& text) {
    if constexpr (std::is_same_v<T, std::string>) {
      return text;
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      // Comma-separated integers: "32,64,128".
      std::vector<int64_t> values;
      std::istringstream in(text);
      for (std::string item; std::getline(in, item, ',');) values.push_back(parse_value<int64_t>(name, item));
      if (values.empty() || text.back() == ',')
        fail("flag --", name, ": expected comma-separated integers (e.g. 32,64), got '", text, "'");
      return values;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      fail("flag --", name, ": expected true or false, got '", text, "'");
    } else {
      if (std::is_unsigned_v<T> && text.find('-') != std::string::npos)
        fail("flag --", name, ": expected a non-negative integer, got '", text, "'");
      std::istringstream in(text);
      T value{};
      in >> value;
      if (in.fail() || !in.eof()) fail("flag --", name, ": cannot read '", text, "' as a number");
      return value;
    }
  }

  Entry* find(const std::string& name) {
    for (Entry& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }

  std::string program_, summary_;
  std::optional<std::string> device_;  // the --device value, when given
  std::deque<Entry> entries_;
  std::deque<std::any> values_;
};

}  // namespace margin

// json_args.h — reads the argument column of known_answers.txt: one flat JSON object whose values
// are strings, int64 integers, booleans (read as 1 / 0) or arrays of integers (what
// tests/make_known_answers.py writes with json.dumps(ensure_ascii=False)). Not a general JSON
// parser; anything else is an error.
#pragma once

#include <stdint.h>
#include <string.h>

#include <charconv>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

struct Args {
  std::map<std::string, std::string> strs;
  std::map<std::string, std::vector<int64_t>> ints;  // a number is a list of one

  const std::string& str(const std::string& k) const { return at(strs, k); }
  int64_t num(const std::string& k) const { return at(ints, k).at(0); }
  const std::vector<int64_t>& nums(const std::string& k) const { return at(ints, k); }
  bool has(const std::string& k) const { return strs.count(k) > 0 || ints.count(k) > 0; }

  static Args parse(const std::string& text) {
    Args a;
    Reader r{text, 0};
    r.expect('{');
    while (!r.eat('}')) {
      const std::string key = r.string();
      r.expect(':');
      if (r.peek() == '"') {
        a.strs[key] = r.string();
      } else if (r.word("true") || r.word("false")) {
        a.ints[key] = {r.s[r.i - 1] == 'e' && r.s[r.i - 2] == 'u' ? 1 : 0};
      } else if (r.eat('[')) {
        std::vector<int64_t>& v = a.ints[key];
        while (!r.eat(']')) {
          v.push_back(r.integer());
          r.eat(',');
        }
      } else {
        a.ints[key] = {r.integer()};
      }
      r.eat(',');
    }
    return a;
  }

 private:
  template <class M>
  static const typename M::mapped_type& at(const M& m, const std::string& k) {
    const auto it = m.find(k);
    if (it == m.end()) throw std::runtime_error("missing argument " + k);
    return it->second;
  }

  struct Reader {
    const std::string& s;
    size_t i;

    void skip_space() {
      while (i < s.size() && s[i] == ' ') ++i;
    }
    char peek() {
      skip_space();
      if (i >= s.size()) throw std::runtime_error("unexpected end of " + s);
      return s[i];
    }
    bool eat(char c) {
      if (peek() != c) return false;
      ++i;
      return true;
    }
    bool word(const char* w) {  // a literal such as true / false
      skip_space();
      const size_t n = strlen(w);
      if (s.compare(i, n, w) != 0) return false;
      i += n;
      return true;
    }
    void expect(char c) {
      if (!eat(c)) throw std::runtime_error(std::string("expected '") + c + "' in " + s);
    }
    int64_t integer() {
      skip_space();
      int64_t v = 0;
      const auto res = std::from_chars(s.data() + i, s.data() + s.size(), v);
      if (res.ec != std::errc()) throw std::runtime_error("bad integer in " + s);
      i = static_cast<size_t>(res.ptr - s.data());
      return v;
    }
    // A JSON string: raw UTF-8 bytes are kept; escapes \" \\ \/ \b \f \n \r \t \uXXXX (with
    // surrogate pairs) are decoded to UTF-8.
    std::string string() {
      expect('"');
      std::string out;
      while (i < s.size() && s[i] != '"') {
        char c = s[i++];
        if (c != '\\') { out += c; continue; }
        c = s.at(i++);
        const char* simple = "\"\"\\\\//b\bf\fn\nr\rt\t";
        bool done = false;
        for (int k = 0; simple[k] && !done; k += 2)
          if (simple[k] == c) { out += simple[k + 1]; done = true; }
        if (done) continue;
        if (c != 'u') throw std::runtime_error("bad escape in " + s);
        uint32_t cp = hex4();
        if (cp >= 0xd800 && cp < 0xdc00 && s.compare(i, 2, "\\u") == 0) {
          i += 2;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4() - 0xdc00);
        }
        utf8(cp, out);
      }
      expect('"');
      return out;
    }
    uint32_t hex4() {
      uint32_t v = 0;
      const auto res = std::from_chars(s.data() + i, s.data() + i + 4, v, 16);
      if (res.ptr != s.data() + i + 4) throw std::runtime_error("bad \\u escape in " + s);
      i += 4;
      return v;
    }
    static void utf8(uint32_t cp, std::string& out) {
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      }
    }
  };
};

// A minimal test harness for the C++ suites: TEST(name) { CHECK(...); }.
// Each binary runs its tests in order, prints one line per test and exits
// non-zero if any check failed.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_TESTS_CHECK_H
#define FDIKP_TESTS_CHECK_H

#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case {
  const char *name;
  std::function<void()> body;
};

inline std::vector<Case> &cases() {
  static std::vector<Case> all;
  return all;
}

inline int &failures() {
  static int count = 0;
  return count;
}

struct Registrar {
  Registrar(const char *name, std::function<void()> body) {
    cases().push_back({name, std::move(body)});
  }
};

inline void fail(const char *file, int line, const std::string &what) {
  ++failures();
  std::fprintf(stderr, "  %s:%d: %s\n", file, line, what.c_str());
}

template <typename T>
std::string show(const T &v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

inline int run_all() {
  int passed = 0, failed = 0;
  for (const Case &c : cases()) {
    const int before = failures();
    std::fprintf(stderr, "%s ...\n", c.name);
    c.body();
    const bool ok = failures() == before;
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", c.name);
    std::fflush(stdout);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CAT_(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT_(a, b)
#define TEST(name)                                                        \
  static void name();                                                     \
  static const check::Registrar CHECK_CAT(registrar_, name)(#name, name); \
  static void name()

#define CHECK(cond) ((cond) ? (void)0 : check::fail(__FILE__, __LINE__, "CHECK(" #cond ") failed"))
#define CHECK_EQ(a, b)                            \
  (((a) == (b)) ? (void)0                         \
                : check::fail(__FILE__, __LINE__, \
                              #a " == " #b ": " + check::show(a) + " != " + check::show(b)))
#define CHECK_NEAR(a, b, tol)                      \
  ((std::fabs((double)(a) - (double)(b)) <= (tol)) \
       ? (void)0                                   \
       : check::fail(__FILE__, __LINE__,           \
                     #a " ~ " #b ": " + check::show(a) + " vs " + check::show(b)))
#define CHECK_CONTAINS(text, part)                     \
  ((std::string(text).find(part) != std::string::npos) \
       ? (void)0                                       \
       : check::fail(__FILE__, __LINE__,               \
                     "\"" + std::string(text) + "\" does not contain \"" + (part) + "\""))

#define CHECK_MAIN() \
  int main() { return check::run_all(); }

#endif  // FDIKP_TESTS_CHECK_H

// tests/skip.h — a test case that cannot run on this machine (no GPU, a data folder absent)
// says why and returns:
//
//   if (!std::filesystem::exists(root)) return testing::skip(root + " is absent");
//
// ctest runs every test case as a test of its own (CMakeLists.txt: doctest_discover_tests), and
// a run in which every test case skipped exits with 77 (tests/doctest_main.cpp), which ctest
// reports as skipped, never as passed. Test cases that may skip name what they need in their
// title ("… (needs a CUDA device)"), so ctest's list of skipped tests says why.
#pragma once
#include <string>

namespace margin::testing {

void skip(const std::string& reason);

}  // namespace margin::testing

// tests/doctest_main.cpp — the one main() every test executable links: doctest's, plus the
// skip rule of tests/skip.h. A listener counts the test cases that ran; when none failed and
// every one of them called testing::skip, the exit status is 77 (ctest's SKIP_RETURN_CODE).
// A run in which no test case ran at all fails: a ctest test must never pass by running
// nothing. (Test case names hold no ';', which CMake would cut them at.)
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "skip.h"

namespace margin::testing {
namespace {

int cases_run = 0, cases_skipped = 0;

struct CaseCounter : doctest::IReporter {
  explicit CaseCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++cases_run; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

void skip(const std::string& reason) {
  ++cases_skipped;
  std::printf("skipped: %s\n", reason.c_str());
  std::fflush(stdout);
}

}  // namespace margin::testing

REGISTER_LISTENER("case_counter", 1, margin::testing::CaseCounter);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int failed = context.run();
  if (context.shouldExit() || failed != 0) return failed;
  using namespace margin::testing;
  if (cases_run == 0) {
    std::printf("no test case ran: the filter matched none (a ctest name cut short?)\n");
    return 1;
  }
  if (cases_skipped >= cases_run) return 77;
  if (cases_skipped > 0) std::printf("%d of %d test cases skipped (reasons above)\n", cases_skipped, cases_run);
  return 0;
}

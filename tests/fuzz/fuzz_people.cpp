// tests/fuzz/fuzz_people.cpp — eval/people.h read_people on an arbitrary file; a file it
// accepts is then split by fold as the LFW unrestricted protocol does (people_except_fold).
// Seeds (corpus/people): View 1's layout (one list), View 2's (folds with counts).
#include "eval/people.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = margin::fuzz::write_scratch(data, size);
  margin::fuzz::refused([&] {
    margin::PeopleFile people = margin::read_people(path);
    margin::all_people(people);
    for (size_t fold = 0; fold < people.folds.size(); ++fold)
      margin::people_except_fold(people, static_cast<int64_t>(fold));
  });
  return 0;
}

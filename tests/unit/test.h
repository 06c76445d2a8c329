/*
 * A minimal test harness: each tests/unit/test_<module>.c is its own program
 * with a main() that runs its cases through RUN(). A failed CHECK prints the
 * file, line and expression, marks the case failed and returns from it, so one
 * broken case does not hide the others. No framework dependency: these
 * programs must run the same under ASan/UBSan, valgrind and gdb.
 */
#ifndef ZTNA_TEST_H
#define ZTNA_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_case_failed;

#define CHECK(expr)                                                          \
  do {                                                                       \
    if (!(expr)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,      \
              #expr);                                                        \
      test_case_failed = 1;                                                  \
      return;                                                                \
    }                                                                        \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                   \
  do {                                                                       \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);          \
    if (check_a_ != check_b_) {                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",      \
              __FILE__, __LINE__, #a, #b, check_a_, check_b_);               \
      test_case_failed = 1;                                                  \
      return;                                                                \
    }                                                                        \
  } while (0)

#define CHECK_STR(a, b)                                                      \
  do {                                                                       \
    const char *check_a_ = (a), *check_b_ = (b);                             \
    if (strcmp(check_a_, check_b_) != 0) {                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n",  \
              __FILE__, __LINE__, #a, #b, check_a_, check_b_);               \
      test_case_failed = 1;                                                  \
      return;                                                                \
    }                                                                        \
  } while (0)

/* The haystack contains the needle: for error messages. */
#define CHECK_CONTAINS(hay, needle)                                          \
  do {                                                                       \
    const char *check_h_ = (hay), *check_n_ = (needle);                      \
    if (!strstr(check_h_, check_n_)) {                                       \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,   \
              __LINE__, check_h_, check_n_);                                 \
      test_case_failed = 1;                                                  \
      return;                                                                \
    }                                                                        \
  } while (0)

#define RUN(fn)                                                              \
  do {                                                                       \
    test_case_failed = 0;                                                    \
    fn();                                                                    \
    printf("%s %s\n", test_case_failed ? "FAIL" : "ok  ", #fn);              \
    test_failures += test_case_failed;                                       \
  } while (0)

#define TEST_EXIT() (test_failures ? 1 : 0)

#endif

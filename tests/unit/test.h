/*
 * A minimal test harness: each tests/unit/test_<module>.c is its own program
 * with a main() that runs its cases through RUN(). A failed CHECK prints the
 * file, line and expression, marks the case failed and returns from it, so one
 * broken case does not hide the others. No framework dependency: these
 * programs must run the same under ASan/UBSan, valgrind and gdb.
 *
 * A case that cannot run its real part (no root, no namespaces, no IPv6)
 * says so with SKIP("reason"): it is reported as "SKIP name: reason" and
 * counted apart, never as ok. With CI=true in the environment a skip fails
 * the program unless the case is named in ZT_EXPECTED_SKIPS (comma-separated
 * case names): the CI machine is root with TUN, namespaces and nftables, so
 * there a skip means a broken environment or a broken test, not a missing
 * feature. Each program ends with "N ok, M skipped, K failed".
 */
#ifndef ZTNA_TEST_H
#define ZTNA_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures, test_skips, test_oks;
static int test_case_failed, test_case_skipped;
static char test_skip_reason[256];

/* Marks the case skipped and returns from it. printf-style reason. */
#define SKIP(...)                                                            \
  do {                                                                       \
    snprintf(test_skip_reason, sizeof(test_skip_reason), __VA_ARGS__);      \
    test_case_skipped = 1;                                                   \
    return;                                                                  \
  } while (0)

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

/* Is `name` listed in ZT_EXPECTED_SKIPS (comma-separated)? */
static inline int test_skip_expected(const char *name) {
  const char *list = getenv("ZT_EXPECTED_SKIPS");
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

static inline void test_report(const char *name) {
  if (test_case_failed) {
    printf("FAIL %s\n", name);
    test_failures++;
    return;
  }
  if (!test_case_skipped) {
    printf("ok   %s\n", name);
    test_oks++;
    return;
  }
  printf("SKIP %s: %s\n", name, test_skip_reason);
  test_skips++;
  if (getenv("CI") && strcmp(getenv("CI"), "true") == 0 &&
      !test_skip_expected(name)) {
    printf("FAIL %s: skipped under CI=true and not in ZT_EXPECTED_SKIPS\n",
           name);
    test_failures++;
  }
}

#define RUN(fn)                                                              \
  do {                                                                       \
    test_case_failed = 0;                                                    \
    test_case_skipped = 0;                                                   \
    test_skip_reason[0] = '\0';                                              \
    fn();                                                                    \
    test_report(#fn);                                                        \
  } while (0)

/* The summary line, and the program's exit status. */
static inline int test_exit(const char *file) {
  const char *base = strrchr(file, '/');
  printf("%s: %d ok, %d skipped, %d failed\n", base ? base + 1 : file,
         test_oks, test_skips, test_failures);
  return test_failures ? 1 : 0;
}
#define TEST_EXIT() test_exit(__FILE__)

#endif

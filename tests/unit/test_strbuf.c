/* strbuf.c: appends, cuts off at capacity without overflowing, and counts
 * what would have been written. */
#include "strbuf.h"
#include "test.h"

static void test_append(void) {
  char buf[32];
  struct zt_strbuf sb;
  zt_strbuf_init(&sb, buf, sizeof(buf));
  CHECK_STR(buf, "");
  zt_strbuf_printf(&sb, "a %d", 1);
  zt_strbuf_printf(&sb, ", b %s\n", "two");
  CHECK_STR(buf, "a 1, b two\n");
  CHECK_EQ_INT(sb.off, 11);
}

static void test_cut_off(void) {
  char buf[16 + 4];
  memset(buf, 'X', sizeof(buf));
  struct zt_strbuf sb;
  zt_strbuf_init(&sb, buf, 16);
  zt_strbuf_printf(&sb, "%s", "0123456789");
  zt_strbuf_printf(&sb, "%s", "abcdefghij"); /* does not fit */
  zt_strbuf_printf(&sb, "%s", "more");       /* nothing left at all */
  CHECK_EQ_INT(strlen(buf), 15);
  CHECK_STR(buf, "0123456789abcde");
  CHECK_EQ_INT(sb.off, 24);
  CHECK(buf[16] == 'X' && buf[19] == 'X'); /* nothing past the capacity */
}

static void test_zero_capacity(void) {
  struct zt_strbuf sb;
  zt_strbuf_init(&sb, NULL, 0);
  zt_strbuf_printf(&sb, "hello");
  CHECK_EQ_INT(sb.off, 5);
}

int main(void) {
  RUN(test_append);
  RUN(test_cut_off);
  RUN(test_zero_capacity);
  return TEST_EXIT();
}

/*
 * Socket address parsing and printing: every accepted form round trips
 * through zt_netaddr_str, junk and out-of-range ports are refused, and
 * prefixes with host bits set are refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "netaddr.h"
#include "test.h"

static struct sockaddr_storage ss;
static socklen_t sslen;
static char buf[64];

/* Parses and prints back as `want`, or fails when want is NULL. */
static int parses_as(const char *s, uint16_t def, const char *want) {
  memset(&ss, 0xa5, sizeof ss);
  int r = zt_netaddr_parse(s, def, &ss, &sslen);
  if (!want) {
    if (r == 0)
      fprintf(stderr, "accepted '%s' as %s\n", s,
              zt_netaddr_str((struct sockaddr *)&ss, buf, sizeof buf));
    return r == -1;
  }
  if (r != 0) {
    fprintf(stderr, "refused '%s'\n", s);
    return 0;
  }
  zt_netaddr_str((struct sockaddr *)&ss, buf, sizeof buf);
  if (strcmp(buf, want) != 0) {
    fprintf(stderr, "'%s' parsed as %s, wanted %s\n", s, buf, want);
    return 0;
  }
  return 1;
}

static void test_parse_ipv4(void) {
  CHECK(parses_as("198.51.100.1:4433", 4433, "198.51.100.1:4433"));
  CHECK(parses_as("1.2.3.4:5", 4433, "1.2.3.4:5"));
  CHECK(parses_as("1.2.3.4:65535", 4433, "1.2.3.4:65535"));
  CHECK(parses_as("10.30.0.2", 4433, "10.30.0.2:4433"));
  CHECK(parses_as("0.0.0.0:0", 0, "0.0.0.0:0"));
  CHECK(parses_as("0.0.0.0", 0, "0.0.0.0:0"));
  CHECK_EQ_INT(sslen, sizeof(struct sockaddr_in));
  const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
  CHECK_EQ_INT(sin->sin_family, AF_INET);
  /* Whatever else the storage held is cleared. */
  CHECK_EQ_INT(((unsigned char *)&ss)[sizeof ss - 1], 0);
}

static void test_parse_ipv6(void) {
  CHECK(parses_as("[::1]:5", 4433, "[::1]:5"));
  CHECK(parses_as("[2001:db8::1]:443", 4433, "[2001:db8::1]:443"));
  CHECK(parses_as("[2001:db8::1]", 4433, "[2001:db8::1]:4433"));
  CHECK(parses_as("2001:db8::1", 4433, "[2001:db8::1]:4433"));
  CHECK(parses_as("::", 0, "[::]:0"));
  CHECK(parses_as("[::]:0", 0, "[::]:0"));
  CHECK_EQ_INT(sslen, sizeof(struct sockaddr_in6));
  CHECK_EQ_INT(((struct sockaddr_in6 *)&ss)->sin6_family, AF_INET6);
}

static void test_parse_refused(void) {
  static const char *const bad[] = {
      "",
      ":4433",
      "1.2.3.4:",
      "1.2.3.4:0",
      "1.2.3.4:65536",
      "1.2.3.4:99999999999",
      "1.2.3.4:-1",
      "1.2.3.4:+80",
      "1.2.3.4: 80",
      "1.2.3.4:80 ",
      "1.2.3.4:80x",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3",
      "1.2.3.4.5",
      "1.2.3.256",
      "01.2.3.4",
      "0x7f.0.0.1",
      "localhost",
      "localhost:80",
      "example.com:4433",
      "[::1]:",
      "[::1]:0",
      "[::1]x",
      "[::1]:80:",
      "[1.2.3.4]:80",
      "[::1",
      "::1]:80",
      "[]:80",
      "[fe80::1%eth0]:80",
      "2001:db8::1:443:",
      "1.2.3.4:80:90",
      "[::1]:65536",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(parses_as(bad[i], 4433, NULL));
    CHECK_EQ_INT(((unsigned char *)&ss)[0], 0xa5); /* left as it was */
  }
  CHECK(zt_netaddr_parse(NULL, 4433, &ss, &sslen) == -1);
  /* Longer than any address text. */
  char longs[200];
  memset(longs, '1', sizeof longs - 1);
  longs[sizeof longs - 1] = '\0';
  CHECK(parses_as(longs, 4433, NULL));
  longs[0] = '[';
  CHECK(parses_as(longs, 4433, NULL));
}

static void test_str(void) {
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  a.ss_family = AF_UNIX;
  CHECK_STR(zt_netaddr_str((struct sockaddr *)&a, buf, sizeof buf),
            "(address family 1)");
  CHECK_STR(zt_netaddr_str(NULL, buf, sizeof buf), "(none)");
  /* A short buffer is cut, still terminated. */
  char small[6];
  socklen_t len;
  CHECK(zt_netaddr_parse("198.51.100.1:4433", 1, &a, &len) == 0);
  CHECK_STR(zt_netaddr_str((struct sockaddr *)&a, small, sizeof small),
            "198.5");
}

static void test_equal(void) {
  struct sockaddr_storage a, b;
  socklen_t la, lb;
  CHECK(zt_netaddr_parse("1.2.3.4:5", 1, &a, &la) == 0);
  CHECK(zt_netaddr_parse("1.2.3.4:5", 1, &b, &lb) == 0);
  CHECK(zt_netaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
  CHECK(zt_netaddr_parse("1.2.3.4:6", 1, &b, &lb) == 0);
  CHECK(!zt_netaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
  CHECK(zt_netaddr_parse("1.2.3.5:5", 1, &b, &lb) == 0);
  CHECK(!zt_netaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
  CHECK(zt_netaddr_parse("[::ffff:1.2.3.4]:5", 1, &b, &lb) == 0);
  CHECK(!zt_netaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
  CHECK(zt_netaddr_parse("[2001:db8::1]:5", 1, &a, &la) == 0);
  CHECK(zt_netaddr_parse("[2001:db8:0::1]:5", 1, &b, &lb) == 0);
  CHECK(zt_netaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
  CHECK(zt_netaddr_parse("[2001:db8::2]:5", 1, &b, &lb) == 0);
  CHECK(!zt_netaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
  CHECK(!zt_netaddr_equal(NULL, (struct sockaddr *)&b));
}

static void test_ip4(void) {
  uint32_t ip = 0;
  CHECK(zt_ip4_parse("10.100.0.1", &ip) == 0);
  CHECK_EQ_INT(ip, 0x0a640001);
  CHECK(zt_ip4_parse("255.255.255.255", &ip) == 0);
  CHECK_EQ_INT(ip, 0xffffffff);
  static const char *const bad[] = {"",          "10.1",       "10.0.0.256",
                                    "10.0.0.1 ", "10.0.0.x",   "010.0.0.1",
                                    "::1",       "10.0.0.1/8", "10.0.0.1:80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ip = 7;
    CHECK(zt_ip4_parse(bad[i], &ip) == -1);
    CHECK_EQ_INT(ip, 7); /* untouched */
  }
  CHECK(zt_ip4_parse(NULL, &ip) == -1);
}

static void test_prefix4(void) {
  uint32_t net;
  uint8_t len;
  CHECK(zt_prefix4_parse("100.64.0.0/16", &net, &len) == 0);
  CHECK_EQ_INT(net, 0x64400000);
  CHECK_EQ_INT(len, 16);
  CHECK(zt_prefix4_parse("0.0.0.0/0", &net, &len) == 0);
  CHECK_EQ_INT(net, 0);
  CHECK_EQ_INT(len, 0);
  CHECK(zt_prefix4_parse("10.1.2.3/32", &net, &len) == 0);
  CHECK_EQ_INT(net, 0x0a010203);
  CHECK_EQ_INT(len, 32);
  CHECK(zt_prefix4_parse("10.1.2.252/30", &net, &len) == 0);
  static const char *const bad[] = {
      "10.0.0.1/8",   /* host bits */
      "100.64.0.0/9", /* host bits: 64 = 0b01000000 */
      "1.0.0.0/0",    /* host bits */
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0",
      "/8",
      "10.0.0.0/08",
      "10.0.0.0/-8",
      "10.0.0.0/8x",
      "10.0.0.0/8/8",
      "10.0.0/8",
      "10.0.0.0 /8",
      "10.0.0.0/ 8",
      "10.0.0.0/100000000000",
      "1234567890123456789/8",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (zt_prefix4_parse(bad[i], &net, &len) != -1) {
      fprintf(stderr, "accepted prefix '%s'\n", bad[i]);
      CHECK(0);
    }
  }
  CHECK(zt_prefix4_parse(NULL, &net, &len) == -1);
}

int main(void) {
  RUN(test_parse_ipv4);
  RUN(test_parse_ipv6);
  RUN(test_parse_refused);
  RUN(test_str);
  RUN(test_equal);
  RUN(test_ip4);
  RUN(test_prefix4);
  return TEST_EXIT();
}

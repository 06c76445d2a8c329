/*
 * The DNS responder (core/dns.c) and its TUN wrapper (core/dnstun.c):
 * answers for names in the table, NXDOMAIN for other names in the domain,
 * REFUSED outside it, and FORMERR or silence for malformed queries.
 */
#include "../unit/test.h"
#include "dnsbuild.h"
#include "dns.h"
#include "dnstun.h"
#include "ippkt.h"

static const struct zt_dns_entry table[] = {
    {"web", 0x0a640001u},
    {"echo", 0x0a640002u},
};
#define DOMAIN "ztna.internal"

/* A query for name of type qtype, id 0x1234 (dnsbuild.h). */
static size_t query(uint8_t *p, const char *name, uint16_t qtype, int edns) {
  return db_query(p, 0x1234, name, qtype, edns);
}

static uint8_t out[1500];
static struct zt_dns_outcome oc;

static size_t ask(const uint8_t *q, size_t len) {
  return zt_dns_answer(q, len, DOMAIN, table, 2, out, sizeof(out), &oc);
}

static int rcode(void) { return out[3] & 0x0f; }
static int count(int i) { return out[4 + 2 * i] << 8 | out[5 + 2 * i]; }

static void test_a_known(void) {
  uint8_t q[512];
  size_t qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 0);
  size_t r = ask(q, qlen);
  /* header, the question as asked, one A record pointing at it */
  CHECK_EQ_INT(r, qlen + 16);
  CHECK(out[0] == 0x12 && out[1] == 0x34);
  CHECK_EQ_INT(out[2], 0x80 | 0x04 | 0x01); /* QR, AA, RD */
  CHECK_EQ_INT(rcode(), ZT_DNS_NOERROR);
  CHECK_EQ_INT(count(0), 1);
  CHECK_EQ_INT(count(1), 1);
  CHECK_EQ_INT(count(3), 0);
  CHECK(memcmp(out + 12, q + 12, qlen - 12) == 0);
  const uint8_t *a = out + qlen;
  CHECK(a[0] == 0xc0 && a[1] == 12); /* compression pointer to the question */
  CHECK(a[2] == 0 && a[3] == 1 && a[4] == 0 && a[5] == 1);
  CHECK_EQ_INT(a[8] << 8 | a[9], ZT_DNS_TTL);
  CHECK(a[10] == 0 && a[11] == 4);
  CHECK(a[12] == 10 && a[13] == 100 && a[14] == 0 && a[15] == 1);
  CHECK_EQ_INT(oc.answers, 1);
}

static void test_case_insensitive(void) {
  uint8_t q[512];
  size_t qlen = query(q, "EcHo.ZTNA.Internal", ZT_DNS_TYPE_A, 0);
  size_t r = ask(q, qlen);
  CHECK_EQ_INT(r, qlen + 16);
  CHECK(memcmp(out + 12, q + 12, qlen - 12) == 0); /* case kept (0x20) */
  CHECK(out[r - 1] == 2);
}

static void test_unknown_and_deeper_nxdomain(void) {
  uint8_t q[512];
  /* "we" and "webx": a prefix of a name, a name as prefix */
  const char *names[] = {"nosuch.ztna.internal", "a.web.ztna.internal",
                         "webx.ztna.internal", "we.ztna.internal"};
  for (size_t i = 0; i < 4; i++) {
    size_t qlen = query(q, names[i], ZT_DNS_TYPE_A, 0);
    CHECK_EQ_INT(ask(q, qlen), qlen);
    CHECK_EQ_INT(rcode(), ZT_DNS_NXDOMAIN);
    CHECK_EQ_INT(count(1), 0);
    CHECK(out[2] & 0x04); /* authoritative */
  }
}

static void test_aaaa_and_other_types_no_data(void) {
  uint8_t q[512];
  uint16_t types[] = {ZT_DNS_TYPE_AAAA, 16 /* TXT */, 15 /* MX */};
  for (size_t i = 0; i < 3; i++) {
    size_t qlen = query(q, "web.ztna.internal", types[i], 0);
    CHECK_EQ_INT(ask(q, qlen), qlen);
    CHECK_EQ_INT(rcode(), ZT_DNS_NOERROR);
    CHECK_EQ_INT(count(1), 0);
  }
  size_t qlen = query(q, "ztna.internal", ZT_DNS_TYPE_A, 0); /* the apex */
  CHECK_EQ_INT(ask(q, qlen), qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_NOERROR);
  qlen = query(q, "web.ztna.internal", 252 /* AXFR */, 0);
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_NOTIMP);
  qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_ANY, 0);
  CHECK_EQ_INT(ask(q, qlen), qlen + 16);
}

static void test_outside_refused(void) {
  uint8_t q[512];
  const char *names[] = {"example.com", "web", "web.ztna.internal.evil",
                         "webztna.internal", "internal", ""};
  for (size_t i = 0; i < 6; i++) {
    size_t qlen = query(q, names[i], ZT_DNS_TYPE_A, 0);
    CHECK_EQ_INT(ask(q, qlen), qlen);
    CHECK_EQ_INT(rcode(), ZT_DNS_REFUSED);
    CHECK_EQ_INT(count(1), 0);
    CHECK(!(out[2] & 0x04)); /* not authoritative */
  }
  /* a class other than IN, even for our own name */
  size_t qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 0);
  q[qlen - 1] = 3; /* CHAOS */
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_REFUSED);
  /* DNS off: an empty domain answers nothing */
  qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 0);
  zt_dns_answer(q, qlen, "", table, 2, out, sizeof(out), &oc);
  CHECK_EQ_INT(rcode(), ZT_DNS_REFUSED);
}

static void test_edns(void) {
  uint8_t q[512];
  size_t qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 1);
  size_t r = ask(q, qlen);
  CHECK_EQ_INT(r, qlen + 16); /* our OPT is as long as theirs */
  CHECK_EQ_INT(count(3), 1);
  CHECK_EQ_INT(oc.edns, 1);
  const uint8_t *opt = out + r - 11;
  CHECK(opt[0] == 0 && opt[1] == 0 && opt[2] == 41);
  CHECK_EQ_INT(opt[3] << 8 | opt[4], ZT_DNS_EDNS_MAX);
  /* OPT with options (rdata) is skipped whole */
  static const uint8_t with_opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0,
                                     0, 4, 0, 10, 0, 0};
  qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 0);
  q[11] = 1;
  memcpy(q + qlen, with_opt, sizeof(with_opt));
  CHECK_EQ_INT(ask(q, qlen + sizeof(with_opt)), qlen + 16 + 11);
  /* rdata running past the end */
  q[qlen + 10] = 9;
  ask(q, qlen + sizeof(with_opt));
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* an additional record that is not OPT */
  q[qlen + 10] = 0;
  q[qlen + 2] = 1;
  ask(q, qlen + 11);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
}

static void test_truncated_reply(void) {
  uint8_t q[512];
  size_t qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 0);
  /* room for the question but not the answer: TC, no answer */
  size_t r = zt_dns_answer(q, qlen, DOMAIN, table, 2, out, qlen + 8, &oc);
  CHECK_EQ_INT(r, qlen);
  CHECK(out[2] & 0x02);
  CHECK_EQ_INT(count(1), 0);
  CHECK_EQ_INT(oc.truncated, 1);
  r = zt_dns_answer(q, qlen, DOMAIN, table, 2, out, 20, &oc);
  CHECK_EQ_INT(r, 12);
  CHECK(out[2] & 0x02);
  CHECK_EQ_INT(zt_dns_answer(q, qlen, DOMAIN, table, 2, out, 11, &oc), 0);
}

static void test_malformed(void) {
  uint8_t q[600];
  size_t qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 0);
  /* shorter than a header: silence */
  CHECK_EQ_INT(ask(q, 11), 0);
  CHECK_EQ_INT(oc.rcode, -1);
  /* a response: silence (answering responses could loop) */
  q[2] |= 0x80;
  CHECK_EQ_INT(ask(q, qlen), 0);
  q[2] &= 0x7f;
  /* header only, question cut */
  for (size_t cut = 12; cut < qlen; cut++) {
    CHECK_EQ_INT(ask(q, cut), 12);
    CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  }
  /* trailing bytes */
  q[qlen] = 0;
  ask(q, qlen + 1);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* counts: two questions, an answer record, an authority record, two
   * additional records */
  static const int field[] = {5, 7, 9, 11};
  static const int value[] = {2, 1, 1, 2};
  for (int i = 0; i < 4; i++) {
    uint8_t c[600];
    memcpy(c, q, qlen);
    c[field[i]] = (uint8_t)value[i];
    CHECK_EQ_INT(ask(c, qlen), 12);
    CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  }
  qlen = query(q, "web.ztna.internal", ZT_DNS_TYPE_A, 0);
  /* opcode other than QUERY */
  q[2] = 0x10; /* STATUS */
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_NOTIMP);
  q[2] = 0x01;
  /* label length past the end */
  q[12] = 60;
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* label types 0x40 and 0x80 */
  q[12] = 0x43;
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  q[12] = 0x83;
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  q[12] = 3;
  /* a byte no label holds */
  q[13] = '.';
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  q[13] = 'w';
  /* a label of 64 bytes */
  char longname[100];
  memset(longname, 'a', 64);
  strcpy(longname + 64, ".ztna.internal");
  qlen = query(q, longname, ZT_DNS_TYPE_A, 0);
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* a name longer than 255 bytes: five labels of 60 */
  char huge[400];
  size_t o = 0;
  for (int i = 0; i < 5; i++) {
    memset(huge + o, 'b', 60);
    o += 60;
    huge[o++] = '.';
  }
  strcpy(huge + o, "ztna.internal");
  qlen = query(q, huge, ZT_DNS_TYPE_A, 0);
  ask(q, qlen);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
}

static void test_compression(void) {
  uint8_t q[64];
  /* a pointer to itself */
  memset(q, 0, 12);
  q[5] = 1;
  q[12] = 0xc0;
  q[13] = 12;
  memset(q + 14, 0, 4);
  q[15] = 1;
  q[17] = 1;
  ask(q, 18);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* forwards */
  q[13] = 20;
  ask(q, 18);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* out of bounds */
  q[12] = 0xff;
  q[13] = 0xff;
  ask(q, 18);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* a pointer cut in half */
  q[12] = 0xc0;
  ask(q, 13);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* a loop of two: a label, then a pointer back to the label (going back,
   * but to a place read already) */
  uint8_t l[64];
  memset(l, 0, 12);
  l[5] = 1;
  l[12] = 1;
  l[13] = 'a';
  l[14] = 0xc0;
  l[15] = 12;
  memset(l + 16, 0, 4);
  l[17] = 1;
  l[19] = 1;
  ask(l, 20);
  CHECK_EQ_INT(rcode(), ZT_DNS_FORMERR);
  /* a valid backwards pointer: the header's bytes 4-5 read as a label?
   * No: a pointer into the header at offset 5 (0x00 0x01 ...) is a label of
   * length 0 = the root, so the name is "." and REFUSED. */
  l[12] = 0xc0;
  l[13] = 6; /* ANCOUNT's high byte: 0, the root */
  memset(l + 14, 0, 4);
  l[15] = 1;
  l[17] = 1;
  CHECK_EQ_INT(ask(l, 18), 12 + 1 + 4);
  CHECK_EQ_INT(rcode(), ZT_DNS_REFUSED);
}

/* A query in a message the size a resolver sends, compression and all,
 * answered and parsed back field by field. */
static void test_roundtrip_handcrafted(void) {
  static const uint8_t q[] = {
      0xbe, 0xef, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1, /* header, AD set */
      4,    'e',  'c',  'h',  'o', 4, 'z', 't', 'n', 'a', 8, 'i', 'n', 't',
      'e',  'r',  'n',  'a',  'l', 0, 0, 1, 0, 1, /* echo.ztna.internal A */
      0,    0,    41,   0x04, 0xd0, 0, 0, 0x80, 0, 0, 0}; /* OPT 1232, DO */
  size_t r = ask(q, sizeof(q));
  CHECK_EQ_INT(r, sizeof(q) + 16);
  CHECK(out[0] == 0xbe && out[1] == 0xef);
  CHECK_EQ_INT(rcode(), 0);
  CHECK_EQ_INT(count(0), 1);
  CHECK_EQ_INT(count(1), 1);
  CHECK_EQ_INT(count(3), 1);
  const uint8_t *a = out + 12 + 20 + 4;
  CHECK(a[0] == 0xc0 && a[1] == 0x0c);
  CHECK(a[12] == 10 && a[13] == 100 && a[14] == 0 && a[15] == 2);
}

static void test_domain_valid(void) {
  CHECK(zt_dns_domain_valid("ztna.internal"));
  CHECK(zt_dns_domain_valid("corp"));
  CHECK(!zt_dns_domain_valid(""));
  CHECK(!zt_dns_domain_valid(".ztna"));
  CHECK(!zt_dns_domain_valid("ztna."));
  CHECK(!zt_dns_domain_valid("a..b"));
  CHECK(!zt_dns_domain_valid("a b"));
}

/* ---- dnstun: the IPv4/UDP wrapping -------------------------------------- */

static uint8_t written[1600];
static size_t written_len;
static int writes;

static void tun_write(void *ud, const uint8_t *p, size_t len) {
  (void)ud;
  memcpy(written, p, len);
  written_len = len;
  writes++;
}

#define ME 0x64400002u /* 100.64.0.2 */

static size_t udp_query(uint8_t *p, uint32_t dst, uint16_t dport,
                        const char *name) {
  return db_udp_query(p, ME, dst, dport, name, 0x1234);
}

static bool handle(struct zt_dnstun *d, const uint8_t *p, size_t n) {
  struct zt_ip_info ip;
  if (zt_ip_parse(p, n, &ip) != 0)
    return false;
  return zt_dnstun_handle(d, p, n, &ip, table, 2, tun_write, NULL);
}

static void test_dnstun(void) {
  struct zt_dnstun d = {.addr = ZT_DNS_DEFAULT_ADDR, .domain = DOMAIN};
  uint8_t p[600];
  size_t n = udp_query(p, ZT_DNS_DEFAULT_ADDR, 53, "web.ztna.internal");
  writes = 0;
  CHECK(handle(&d, p, n));
  CHECK_EQ_INT(writes, 1);
  struct zt_ip_info ip;
  CHECK_EQ_INT(zt_ip_parse(written, written_len, &ip), 0);
  CHECK(ip.src == ZT_DNS_DEFAULT_ADDR && ip.dst == ME);
  CHECK(ip.proto == ZT_IP_PROTO_UDP && ip.sport == 53 && ip.dport == 40000);
  CHECK_EQ_INT(zt_ip_checksum(written, 20), 0);
  CHECK_EQ_INT(zt_dnstun_udp_checksum(ip.src, ip.dst, written + 20,
                                      written_len - 20), 0);
  CHECK_EQ_INT(written_len, n + 16);
  CHECK(written[written_len - 1] == 1 && written[written_len - 4] == 10);
  CHECK_EQ_INT(d.st.queries, 1);
  CHECK_EQ_INT(d.st.answers, 1);

  n = udp_query(p, ZT_DNS_DEFAULT_ADDR, 53, "nosuch.ztna.internal");
  CHECK(handle(&d, p, n));
  CHECK_EQ_INT(written[28 + 3] & 0xf, ZT_DNS_NXDOMAIN);
  CHECK_EQ_INT(d.st.nxdomain, 1);
  n = udp_query(p, ZT_DNS_DEFAULT_ADDR, 53, "example.com");
  CHECK(handle(&d, p, n));
  CHECK_EQ_INT(written[28 + 3] & 0xf, ZT_DNS_REFUSED);
  CHECK_EQ_INT(d.st.refused, 1);

  /* a bad UDP checksum: dropped, counted */
  writes = 0;
  n = udp_query(p, ZT_DNS_DEFAULT_ADDR, 53, "web.ztna.internal");
  p[26] ^= 1;
  CHECK(handle(&d, p, n));
  CHECK_EQ_INT(writes, 0);
  CHECK_EQ_INT(d.st.malformed, 1);
  /* a UDP length past the packet */
  p[26] = p[27] = 0; /* no checksum */
  zt_ip_wr16(p + 24, (uint16_t)(n - 20 + 1));
  CHECK(handle(&d, p, n));
  CHECK_EQ_INT(writes, 0);
  CHECK_EQ_INT(d.st.malformed, 2);
  /* to the DNS address but another port: taken, dropped */
  n = udp_query(p, ZT_DNS_DEFAULT_ADDR, 54, "web.ztna.internal");
  CHECK(handle(&d, p, n));
  CHECK_EQ_INT(writes, 0);
  CHECK_EQ_INT(d.st.not_dns, 1);
  /* to another address: not ours */
  n = udp_query(p, 0x0a640001u, 53, "web.ztna.internal");
  CHECK(!handle(&d, p, n));
  /* DNS off */
  d.addr = 0;
  n = udp_query(p, ZT_DNS_DEFAULT_ADDR, 53, "web.ztna.internal");
  CHECK(!handle(&d, p, n));
  CHECK_EQ_INT(writes, 0);
}

int main(void) {
  RUN(test_a_known);
  RUN(test_case_insensitive);
  RUN(test_unknown_and_deeper_nxdomain);
  RUN(test_aaaa_and_other_types_no_data);
  RUN(test_outside_refused);
  RUN(test_edns);
  RUN(test_truncated_reply);
  RUN(test_malformed);
  RUN(test_compression);
  RUN(test_roundtrip_handcrafted);
  RUN(test_domain_valid);
  RUN(test_dnstun);
  return TEST_EXIT();
}

/* identity.c: role names, name rules, URI parsing, reading certificates. */
#include <gnutls/gnutls.h>
#include <stdlib.h>

#include "certgen.h"
#include "identity.h"
#include "test.h"

static void test_roles(void) {
  enum zt_role r;
  CHECK_STR(zt_role_name(ZT_ROLE_AGENT), "agent");
  CHECK_STR(zt_role_name(ZT_ROLE_CONNECTOR), "connector");
  CHECK_STR(zt_role_name(ZT_ROLE_INTERMEDIATE), "intermediate");
  CHECK_STR(zt_role_name((enum zt_role)99), "none");
  CHECK_EQ_INT(zt_role_parse("connector", &r), 0);
  CHECK_EQ_INT(r, ZT_ROLE_CONNECTOR);
  CHECK_EQ_INT(zt_role_parse("none", &r), -1);
  CHECK_EQ_INT(zt_role_parse("Agent", &r), -1);
  CHECK_EQ_INT(zt_role_parse("", &r), -1);
}

static void test_names(void) {
  char long_name[80];
  memset(long_name, 'a', sizeof(long_name));
  long_name[63] = 0;
  CHECK(zt_name_valid("alice"));
  CHECK(zt_name_valid("conn-a.eu_1"));
  CHECK(zt_name_valid(long_name));
  long_name[63] = 'a';
  long_name[64] = 0;
  CHECK(!zt_name_valid(long_name));
  CHECK(!zt_name_valid(""));
  CHECK(!zt_name_valid("-x"));
  CHECK(!zt_name_valid(".x"));
  CHECK(!zt_name_valid("a b"));
  CHECK(!zt_name_valid("a/b"));
  CHECK(!zt_name_valid("caf\xc3\xa9"));
}

/* The one name rule, byte by byte: after the first byte exactly the 65 of
 * [A-Za-z0-9._-] pass; as the first byte the same less '.' and '-'. Every
 * other part (ctrl codec, config, certificates, the tool) calls this. */
static void test_name_rule_every_byte(void) {
  int inner = 0, first = 0;
  for (int c = 0; c < 256; c++) {
    char s[2] = {'a', (char)c};
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    CHECK_EQ_INT(zt_name_valid_n(s, 2), alpha);
    inner += alpha;
    s[0] = (char)c;
    CHECK_EQ_INT(zt_name_valid_n(s, 1), alpha && c != '.' && c != '-');
    first += zt_name_valid_n(s, 1);
  }
  CHECK_EQ_INT(inner, 65);
  CHECK_EQ_INT(first, 63);
  CHECK(zt_name_valid("_x"));
  CHECK(zt_name_valid("x-."));
  CHECK(!zt_name_valid_n("a\0b", 3)); /* the length counts, not a NUL */
  CHECK(!zt_name_valid_n("ab", 0));
}

static void test_uri(void) {
  enum zt_role r;
  char name[ZT_NAME_MAX + 1];
  const char *ok = "ztna://agent/alice";
  CHECK_EQ_INT(zt_identity_parse_uri(ok, strlen(ok), &r, name), 0);
  CHECK_EQ_INT(r, ZT_ROLE_AGENT);
  CHECK_STR(name, "alice");
  /* Length-delimited: trailing bytes beyond len are not part of it. */
  CHECK_EQ_INT(zt_identity_parse_uri("ztna://agent/alicebob", 18, &r, name), 0);
  CHECK_STR(name, "alice");
  static const char *bad[] = {
      "ztna://agent/",       "ztna://agent",       "ztna:///alice",
      "ztna://root/alice",   "https://agent/alice", "ztna://agent/al/ice",
      "ztna://agent/a lice", "ZTNA://agent/alice",  "ztna://",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_EQ_INT(zt_identity_parse_uri(bad[i], strlen(bad[i]), &r, name), -1);
}

static int pem_to_der(const char *pem, gnutls_datum_t *der) {
  gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)};
  return gnutls_pem_base64_decode2("CERTIFICATE", &in, der);
}

static void test_from_certificate(void) {
  struct zt_pem ca, leaf;
  char err[256], name[ZT_NAME_MAX + 1];
  enum zt_role r;
  gnutls_datum_t der;
  CHECK_EQ_INT(zt_cert_make_ca("t", 1, &ca, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_CONNECTOR, "conn-a", 1, NULL, NULL,
                             &leaf, err, sizeof(err)),
               0);
  CHECK_EQ_INT(pem_to_der(leaf.cert, &der), 0);
  CHECK_EQ_INT(zt_identity_from_der(der.data, der.size, &r, name, err,
                                    sizeof(err)),
               0);
  CHECK_EQ_INT(r, ZT_ROLE_CONNECTOR);
  CHECK_STR(name, "conn-a");
  gnutls_free(der.data);

  /* The CA has no identity: refused with a reason. */
  CHECK_EQ_INT(pem_to_der(ca.cert, &der), 0);
  CHECK_EQ_INT(zt_identity_from_der(der.data, der.size, &r, name, err,
                                    sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "no ztna://");
  gnutls_free(der.data);

  /* Garbage is a bad certificate, not a crash. */
  CHECK_EQ_INT(zt_identity_from_der((const unsigned char *)"\x30\x03xyz", 5,
                                    &r, name, err, sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "bad certificate");
  zt_pem_free(&ca);
  zt_pem_free(&leaf);
}

int main(void) {
  RUN(test_roles);
  RUN(test_names);
  RUN(test_name_rule_every_byte);
  RUN(test_uri);
  RUN(test_from_certificate);
  return TEST_EXIT();
}

/*
 * The admin dashboard's rules (docs/dashboard.md): the bearer token check,
 * the token file's form, loopback detection, the configuration's refusal
 * of a non-loopback dashboard without a token, and the traffic ring.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config.h"
#include "dashauth.h"
#include "netaddr.h"
#include "test.h"
#include "trafficring.h"

#define TOKEN "c2VjcmV0LXRva2VuLWZvci10ZXN0cw=="

static void test_bearer(void) {
  CHECK(zt_dash_bearer_ok("Bearer " TOKEN, TOKEN));
  /* No header: no data. */
  CHECK(!zt_dash_bearer_ok(NULL, TOKEN));
  CHECK(!zt_dash_bearer_ok("", TOKEN));
  CHECK(!zt_dash_bearer_ok("Bearer ", TOKEN));
  /* Wrong, shorter, longer, other scheme, other case. */
  CHECK(!zt_dash_bearer_ok("Bearer c2VjcmV0LXRva2VuLWZvci10ZXN0cw=!", TOKEN));
  CHECK(!zt_dash_bearer_ok("Bearer X2VjcmV0LXRva2VuLWZvci10ZXN0cw==", TOKEN));
  CHECK(!zt_dash_bearer_ok("Bearer c2VjcmV0LXRva2VuLWZvci10ZXN0cw=", TOKEN));
  CHECK(!zt_dash_bearer_ok("Bearer " TOKEN "x", TOKEN));
  CHECK(!zt_dash_bearer_ok("Basic " TOKEN, TOKEN));
  CHECK(!zt_dash_bearer_ok(TOKEN, TOKEN));
  /* An empty expected token never matches (not "no token -> open"). */
  CHECK(!zt_dash_bearer_ok("Bearer ", ""));
  CHECK(!zt_dash_bearer_ok("Bearer x", NULL));
}

static void test_token_file(void) {
  char tok[ZT_DASH_TOKEN_MAX + 1], err[256];
  const char *good = "  " TOKEN "\n";
  CHECK_EQ_INT(zt_dash_token_parse(good, strlen(good), tok, sizeof tok, err,
                                   sizeof err), 0);
  CHECK_STR(tok, TOKEN);
  CHECK_EQ_INT(zt_dash_token_parse("short\n", 6, tok, sizeof tok, err,
                                   sizeof err), -1);
  CHECK_CONTAINS(err, "too short");
  CHECK_EQ_INT(zt_dash_token_parse("\n\n", 2, tok, sizeof tok, err,
                                   sizeof err), -1);
  const char *spaced = "abcdefgh ijklmnopq";
  CHECK_EQ_INT(zt_dash_token_parse(spaced, strlen(spaced), tok, sizeof tok,
                                   err, sizeof err), -1);
  CHECK_CONTAINS(err, "offset 8");
  char big[ZT_DASH_TOKEN_MAX + 2];
  memset(big, 'a', sizeof big);
  CHECK_EQ_INT(zt_dash_token_parse(big, sizeof big, tok, sizeof tok, err,
                                   sizeof err), -1);
  CHECK_CONTAINS(err, "too long");
}

static bool loopback(const char *s) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (zt_netaddr_parse(s, 1, &ss, &len) != 0)
    return false;
  return zt_addr_is_loopback((struct sockaddr *)&ss);
}

static void test_loopback(void) {
  CHECK(loopback("127.0.0.1:8080"));
  CHECK(loopback("127.9.9.9:8080"));
  CHECK(loopback("[::1]:8080"));
  CHECK(!loopback("0.0.0.0:8080"));
  CHECK(!loopback("10.0.0.1:8080"));
  CHECK(!loopback("128.0.0.1:8080"));
  CHECK(!loopback("[::]:8080"));
}

static struct zt_intermediate_config icfg;
static char err[512];

static int im(const char *text) {
  zt_intermediate_config_defaults(&icfg);
  return zt_intermediate_config_parse(&icfg, "im.json", text, strlen(text),
                                      err, sizeof err);
}

static void test_config(void) {
  /* Off by default. */
  CHECK_EQ_INT(im("{}"), 0);
  CHECK_EQ_INT(icfg.dashboard_listen_len, 0);
  /* Loopback without a token: fine, plain HTTP unless asked. */
  CHECK_EQ_INT(im("{\"dashboard_listen\": \"127.0.0.1:9180\"}"), 0);
  CHECK(icfg.dashboard_listen_len > 0);
  CHECK_STR(icfg.dashboard_token_file, "");
  CHECK_EQ_INT(icfg.dashboard_tls, 0);
  CHECK_EQ_INT(im("{\"dashboard_listen\": \"127.0.0.1:9180\","
                  " \"dashboard_tls\": true}"), 0);
  CHECK_EQ_INT(icfg.dashboard_tls, 1);
  /* Exposed: HTTPS by default, where an admin certificate is a
   * credential, so no token is needed. */
  CHECK_EQ_INT(im("{\"dashboard_listen\": \"0.0.0.0:9180\"}"), 0);
  CHECK_EQ_INT(icfg.dashboard_tls, 1);
  CHECK_EQ_INT(im("{\"dashboard_listen\": \"[::]:9180\"}"), 0);
  CHECK_EQ_INT(icfg.dashboard_tls, 1);
  /* Exposed over plain HTTP: refused unless asked for knowingly, naming
   * file, line and key. */
  CHECK_EQ_INT(im("{\n \"log_level\": \"info\",\n"
                  " \"dashboard_listen\": \"0.0.0.0:9180\",\n"
                  " \"dashboard_token_file\": \"/etc/ztna/dashboard.token\",\n"
                  " \"dashboard_tls\": false\n}"), -1);
  CHECK_CONTAINS(err, "im.json:3: dashboard_listen");
  CHECK_CONTAINS(err, "dashboard_allow_http");
  /* ... and then only with a token. */
  CHECK_EQ_INT(im("{\n \"log_level\": \"info\",\n"
                  " \"dashboard_listen\": \"0.0.0.0:9180\",\n"
                  " \"dashboard_tls\": false, \"dashboard_allow_http\": true\n}"),
               -1);
  CHECK_CONTAINS(err, "im.json:3: dashboard_listen");
  CHECK_CONTAINS(err, "dashboard_token_file");
  CHECK_EQ_INT(im("{\"dashboard_listen\": \"10.1.2.3:9180\","
                  " \"dashboard_token_file\": \"/etc/ztna/dashboard.token\","
                  " \"dashboard_tls\": false, \"dashboard_allow_http\": true}"),
               0);
  CHECK_STR(icfg.dashboard_token_file, "/etc/ztna/dashboard.token");
  CHECK_EQ_INT(icfg.dashboard_tls, 0);
  CHECK_EQ_INT(im("{\"dashboard_listen\": \"10.1.2.3:9180\","
                  " \"dashboard_tls\": \"yes\"}"), -1);
  CHECK_CONTAINS(err, "dashboard_tls");
  /* The port is required, as for metrics_listen. */
  CHECK_EQ_INT(im("{\"dashboard_listen\": \"127.0.0.1\"}"), -1);
  CHECK_CONTAINS(err, "dashboard_listen");
}

static void test_ring(void) {
  struct zt_traffic_ring r;
  char buf[4096];
  zt_traffic_ring_init(&r);
  zt_traffic_ring_json(&r, buf, sizeof buf);
  CHECK_STR(buf, "{\"interval_s\":5,\"samples\":[]}");
  zt_traffic_ring_sample(&r, 1000, 500); /* primes only */
  zt_traffic_ring_sample(&r, 6000, 800);
  zt_traffic_ring_sample(&r, 11000, 800);
  zt_traffic_ring_json(&r, buf, sizeof buf);
  CHECK_STR(buf, "{\"interval_s\":5,\"samples\":[[6000,300],[11000,0]]}");
  /* A counter that went back (restart) counts from 0. */
  zt_traffic_ring_sample(&r, 16000, 40);
  zt_traffic_ring_json(&r, buf, sizeof buf);
  CHECK_CONTAINS(buf, "[16000,40]]}");
  /* Past 60 samples the oldest go, order stays oldest first. */
  uint64_t total = 40;
  for (uint64_t i = 0; i < 100; i++) {
    total += i;
    zt_traffic_ring_sample(&r, 20000 + i, total);
  }
  CHECK_EQ_INT(r.n, ZT_TRAFFIC_SAMPLES);
  zt_traffic_ring_json(&r, buf, sizeof buf);
  CHECK(strncmp(buf, "{\"interval_s\":5,\"samples\":[[20040,40],[20041,41],", 49) == 0);
  CHECK_CONTAINS(buf, ",[20099,99]]}");
  /* Cut output reports the length it needed. */
  int need = zt_traffic_ring_json(&r, buf, 10);
  CHECK(need > 10);
}

int main(void) {
  RUN(test_bearer);
  RUN(test_token_file);
  RUN(test_loopback);
  RUN(test_config);
  RUN(test_ring);
  return TEST_EXIT();
}

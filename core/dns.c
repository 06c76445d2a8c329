/* The agent's DNS responder for the deployment's domain. See dns.h. */
#include "dns.h"

#include <stdbool.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static bool label_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* ASCII case-insensitive equality of a[0..n) and b[0..n). */
static bool same(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

/* The name at m[off] as dotted text (at most 253 characters, original
 * case; "" for the root) into txt (>= ZT_DNS_NAME_MAX bytes); *end is where
 * the name ends in the message (after its first pointer, if any). A
 * pointer must go strictly before the lowest place read so far, so a chain
 * of them always ends; and never past the message. -1 if malformed. */
static int read_name(const uint8_t *m, size_t len, size_t off, char *txt,
                     size_t *end) {
  size_t pos = off, low = off, wire = 0, t = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len)
      return -1;
    uint8_t l = m[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= len)
        return -1;
      size_t target = (size_t)(l & 0x3f) << 8 | m[pos + 1];
      if (target >= low)
        return -1; /* forwards, or a loop */
      if (!jumped)
        *end = pos + 2;
      jumped = true;
      pos = low = target;
      continue;
    }
    if (l & 0xc0) /* 0x40 and 0x80: extended and reserved label types */
      return -1;
    if (l == 0) {
      if (!jumped)
        *end = pos + 1;
      txt[t] = 0;
      return 0;
    }
    if (l > ZT_DNS_LABEL_MAX || pos + 1 + l > len)
      return -1;
    wire += 1u + l;
    if (wire + 1 > ZT_DNS_NAME_MAX)
      return -1;
    if (t)
      txt[t++] = '.';
    for (size_t i = 0; i < l; i++) {
      if (!label_char(m[pos + 1 + i]))
        return -1;
      txt[t++] = (char)m[pos + 1 + i];
    }
    pos += 1u + l;
  }
}

int zt_dns_domain_valid(const char *d) {
  size_t n = strlen(d), lab = 0;
  if (n == 0 || n > ZT_DNS_DOMAIN_MAX || d[0] == '.' || d[n - 1] == '.')
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (d[i] == '.') {
      if (lab == 0)
        return 0;
      lab = 0;
    } else if (!label_char((uint8_t)d[i]) || ++lab > ZT_DNS_LABEL_MAX) {
      return 0;
    }
  }
  return 1;
}

/* Where a name stands relative to the domain. */
enum place { OUTSIDE, APEX, INSIDE_ONE_LABEL, INSIDE_DEEPER };

static enum place place_of(const char *name, const char *domain,
                           size_t *label_len) {
  size_t n = strlen(name), d = strlen(domain);
  if (d == 0)
    return OUTSIDE;
  if (n == d && same(name, domain, d))
    return APEX;
  if (n < d + 2 || name[n - d - 1] != '.' || !same(name + n - d, domain, d))
    return OUTSIDE;
  *label_len = n - d - 1;
  return memchr(name, '.', *label_len) ? INSIDE_DEEPER : INSIDE_ONE_LABEL;
}

static const struct zt_dns_entry *lookup(const struct zt_dns_entry *t,
                                         size_t n, const char *label,
                                         size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(t[i].name) == len && same(t[i].name, label, len))
      return &t[i];
  return NULL;
}

/* Writes the question's name uncompressed; its length. */
static size_t put_name(uint8_t *p, const char *txt) {
  size_t o = 0;
  while (*txt) {
    const char *dot = strchr(txt, '.');
    size_t l = dot ? (size_t)(dot - txt) : strlen(txt);
    p[o++] = (uint8_t)l;
    memcpy(p + o, txt, l);
    o += l;
    txt += l + (dot ? 1 : 0);
  }
  p[o++] = 0;
  return o;
}

/* A reply with no question: FORMERR, NOTIMP for other opcodes. */
static size_t header_only(const uint8_t *q, int rcode, uint8_t *out,
                          size_t outlen, struct zt_dns_outcome *oc) {
  if (outlen < ZT_DNS_HDR_LEN)
    return 0;
  memset(out, 0, ZT_DNS_HDR_LEN);
  memcpy(out, q, 2);
  out[2] = (uint8_t)(0x80 | (q[2] & 0x79)); /* QR, opcode and RD kept */
  out[3] = (uint8_t)rcode;
  oc->rcode = rcode;
  return ZT_DNS_HDR_LEN;
}

/* Query types that need a zone transfer or mailbox support we have not
 * got (RFC 1035 3.2.3, RFC 1995): IXFR, AXFR, MAILB, MAILA. */
static bool unimplemented_qtype(uint16_t t) { return t >= 251 && t <= 254; }

size_t zt_dns_answer(const uint8_t *q, size_t qlen, const char *domain,
                     const struct zt_dns_entry *table, size_t n, uint8_t *out,
                     size_t outlen, struct zt_dns_outcome *oc) {
  char name[ZT_DNS_NAME_MAX], root[ZT_DNS_NAME_MAX];
  size_t off, label_len = 0;
  memset(oc, 0, sizeof(*oc));
  oc->rcode = -1;
  if (qlen < ZT_DNS_HDR_LEN || (q[2] & 0x80))
    return 0;
  if (((q[2] >> 3) & 0xf) != 0) /* opcode: only QUERY */
    return header_only(q, ZT_DNS_NOTIMP, out, outlen, oc);
  if (rd16(q + 4) != 1 || rd16(q + 6) != 0 || rd16(q + 8) != 0 ||
      rd16(q + 10) > 1)
    return header_only(q, ZT_DNS_FORMERR, out, outlen, oc);
  if (read_name(q, qlen, ZT_DNS_HDR_LEN, name, &off) != 0 || off + 4 > qlen)
    return header_only(q, ZT_DNS_FORMERR, out, outlen, oc);
  uint16_t qtype = rd16(q + off), qclass = rd16(q + off + 2);
  off += 4;
  size_t limit = ZT_DNS_UDP_MAX;
  if (rd16(q + 10) == 1) { /* the one additional record: EDNS0's OPT */
    size_t e;
    if (read_name(q, qlen, off, root, &e) != 0 || root[0] || e != off + 1 ||
        e + 10 > qlen || rd16(q + e) != ZT_DNS_TYPE_OPT)
      return header_only(q, ZT_DNS_FORMERR, out, outlen, oc);
    size_t size = rd16(q + e + 2), rdlen = rd16(q + e + 8);
    if (e + 10 + rdlen > qlen)
      return header_only(q, ZT_DNS_FORMERR, out, outlen, oc);
    off = e + 10 + rdlen;
    oc->edns = 1;
    limit = size < ZT_DNS_UDP_MAX    ? ZT_DNS_UDP_MAX
            : size > ZT_DNS_EDNS_MAX ? ZT_DNS_EDNS_MAX
                                     : size;
  }
  if (off != qlen) /* bytes after the last record */
    return header_only(q, ZT_DNS_FORMERR, out, outlen, oc);
  oc->qtype = qtype;

  int rcode = ZT_DNS_NOERROR;
  bool ours = false;
  const struct zt_dns_entry *hit = NULL;
  enum place pl = place_of(name, domain, &label_len);
  if (qclass != ZT_DNS_CLASS_IN || pl == OUTSIDE) {
    rcode = ZT_DNS_REFUSED; /* not ours: we are no recursive resolver */
  } else {
    ours = true;
    if (unimplemented_qtype(qtype))
      rcode = ZT_DNS_NOTIMP;
    else if (pl == INSIDE_DEEPER ||
             (pl == INSIDE_ONE_LABEL &&
              !(hit = lookup(table, n, name, label_len))))
      rcode = ZT_DNS_NXDOMAIN;
  }
  /* A for the name's A and ANY queries; AAAA and every other type of a
   * name we have: NOERROR with no answer ("no data"). */
  bool answer = hit && (qtype == ZT_DNS_TYPE_A || qtype == ZT_DNS_TYPE_ANY);

  uint8_t buf[ZT_DNS_HDR_LEN + ZT_DNS_NAME_MAX + 4 + 16 + 11];
  memset(buf, 0, ZT_DNS_HDR_LEN);
  memcpy(buf, q, 2);
  buf[2] = (uint8_t)(0x80 | (ours ? 0x04 : 0) | (q[2] & 0x01)); /* QR AA RD */
  buf[3] = (uint8_t)rcode;
  wr16(buf + 4, 1);
  size_t o = ZT_DNS_HDR_LEN;
  o += put_name(buf + o, name);
  wr16(buf + o, qtype);
  wr16(buf + o + 2, qclass);
  o += 4;
  size_t question_end = o;
  if (answer) {
    wr16(buf + o, 0xc000 | ZT_DNS_HDR_LEN); /* the question's name */
    wr16(buf + o + 2, ZT_DNS_TYPE_A);
    wr16(buf + o + 4, ZT_DNS_CLASS_IN);
    wr16(buf + o + 6, 0);
    wr16(buf + o + 8, ZT_DNS_TTL);
    wr16(buf + o + 10, 4);
    buf[o + 12] = (uint8_t)(hit->addr >> 24);
    buf[o + 13] = (uint8_t)(hit->addr >> 16);
    buf[o + 14] = (uint8_t)(hit->addr >> 8);
    buf[o + 15] = (uint8_t)hit->addr;
    o += 16;
    wr16(buf + 6, 1);
  }
  size_t opt_len = oc->edns ? 11 : 0;
  if (limit > outlen)
    limit = outlen;
  if (o + opt_len > limit) { /* does not fit: the question only, TC set */
    buf[2] |= 0x02;
    wr16(buf + 6, 0);
    answer = false;
    oc->truncated = 1;
    o = question_end;
    if (o + opt_len > limit) {
      o = ZT_DNS_HDR_LEN;
      wr16(buf + 4, 0);
      opt_len = 0;
      if (o > limit)
        return 0;
    }
  }
  if (opt_len) { /* our OPT: root name, UDP size, no flags, no options */
    memset(buf + o, 0, opt_len);
    wr16(buf + o + 1, ZT_DNS_TYPE_OPT);
    wr16(buf + o + 3, ZT_DNS_EDNS_MAX);
    o += opt_len;
    wr16(buf + 10, 1);
  }
  memcpy(out, buf, o);
  oc->rcode = rcode;
  oc->answers = answer ? 1 : 0;
  return o;
}

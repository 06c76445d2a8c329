/*
 * The certificate commands. A deployment's CA lives in a directory as
 * ca.pem (public, given to every party) and ca.key (secret, stays with the
 * operator); leaves are PREFIX.pem and PREFIX.key.
 */
#include "cert_cmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "file.h"
#include "identity.h"
#include "pemfile.h"
#include "secret.h"

#define MAX_SANS 16
#define PEM_MAX (1u << 20) /* a certificate or key is a few kB */

static const char ca_usage[] =
    "usage: ztna ca init --dir DIR [--name CN] [--days N] [--force]\n"
    "  Creates the deployment CA: DIR/ca.pem (give it to every party) and\n"
    "  DIR/ca.key (keep it with the operator). Default name ztna-ca, 3650 "
    "days.\n"
    "  Refuses if DIR already holds either file; --force replaces both.\n";

static const char cert_usage[] =
    "usage: ztna cert issue --ca-dir DIR --role ROLE --name NAME [--out "
    "PREFIX]\n"
    "                       [--days N] [--dns NAME]... [--ip ADDR]... "
    "[--force]\n"
    "         ROLE is intermediate, connector, agent or admin (the dashboard's\n"
    "         client certificate); writes PREFIX.pem and\n"
    "         PREFIX.key (default PREFIX: ./NAME), valid 825 days by "
    "default.\n"
    "       ztna cert renew --ca-dir DIR CERT.pem [--key KEY] [--keep-key]\n"
    "                       [--days N] [--out PREFIX]\n"
    "         a fresh certificate for CERT's identity (role, name, DNS and IP\n"
    "         names), with a new key unless --keep-key; replaces CERT.pem and\n"
    "         its key (default: CERT with .key for .pem) atomically, or writes\n"
    "         PREFIX.pem and PREFIX.key; then SIGHUP or `ztna reload` the daemon\n"
    "       ztna cert revoke --ca-dir DIR CERT.pem [--reason R]\n"
    "         adds CERT's serial to DIR/revoked and writes DIR/crl.pem, signed\n"
    "         by the CA, next update in 30 days (revoking again refreshes it)\n"
    "       ztna cert show FILE.pem\n"
    "       ztna crl show [--ca CA.pem] FILE.pem\n"
    "       ztna cert verify --ca CA.pem FILE.pem\n";

static int parse_days(const char *s, unsigned *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || end == s || v == 0 || v > 36500)
    return -1;
  *out = (unsigned)v;
  return 0;
}

static int join(char *buf, size_t len, const char *a, const char *b) {
  return (size_t)snprintf(buf, len, "%s%s", a, b) < len ? 0 : -1;
}

/* An existing CA is replaced only on --force, and never half of it: a
 * ca.pem whose ca.key is missing (or belongs to another CA) would otherwise
 * get a fresh key that matches nothing, and every certificate issued with
 * it would fail to verify. So any existing file refuses, with a message
 * that says which state the directory is in (printed here: the paths may
 * be long). */
static int ca_dir_free(const char *dir, const char *cert_path,
                       const char *key_path) {
  bool have_cert = access(cert_path, F_OK) == 0;
  bool have_key = access(key_path, F_OK) == 0;
  if (!have_cert && !have_key)
    return 0;
  if (have_cert != have_key) {
    fprintf(stderr,
            "ztna ca init: %s exists but %s does not: refusing to make a CA "
            "half of which would not match the other (restore the missing "
            "file, or use --force to replace the CA, which invalidates every "
            "certificate it issued)\n",
            have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
    return -1;
  }
  struct zt_pem ca = {0};
  char why[256];
  if (!(ca.cert = zt_file_read(cert_path, PEM_MAX, NULL, why, sizeof(why))) ||
      !(ca.key = zt_file_read(key_path, PEM_MAX, NULL, why, sizeof(why))) ||
      zt_ca_check(&ca, why, sizeof(why)) != 0)
    fprintf(stderr,
            "ztna ca init: %s and %s exist but are not a usable CA: %s; "
            "refusing to touch them (use --force to replace both)\n",
            cert_path, key_path, why);
  else
    fprintf(stderr,
            "ztna ca init: a CA already exists in %s (use --force to replace "
            "it)\n",
            dir);
  zt_pem_free(&ca);
  return -1;
}

static int ca_init(int argc, char **argv) {
  static const struct option opts[] = {
      {"dir", required_argument, NULL, 'd'},
      {"name", required_argument, NULL, 'n'},
      {"days", required_argument, NULL, 'D'},
      {"force", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *dir = NULL, *cn = "ztna-ca";
  unsigned days = 3650;
  bool force = false;
  int ch;
  char err[512], cert_path[4096], key_path[4096];

  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'd': dir = optarg; break;
    case 'n': cn = optarg; break;
    case 'f': force = true; break;
    case 'D':
      if (parse_days(optarg, &days) != 0) {
        fprintf(stderr, "ztna ca init: --days: expected 1..36500, got '%s'\n",
                optarg);
        return 2;
      }
      break;
    case 'h': fputs(ca_usage, stdout); return 0;
    default: fputs(ca_usage, stderr); return 2;
    }
  }
  if (!dir || optind < argc) {
    fputs(ca_usage, stderr);
    return 2;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "ztna ca init: %s: %s\n", dir, strerror(errno));
    return 1;
  }
  if (join(cert_path, sizeof(cert_path), dir, "/ca.pem") ||
      join(key_path, sizeof(key_path), dir, "/ca.key")) {
    fprintf(stderr, "ztna ca init: %s: path too long\n", dir);
    return 1;
  }
  if (!force && ca_dir_free(dir, cert_path, key_path) != 0)
    return 1;
  struct zt_pem pem;
  if (zt_cert_make_ca(cn, days, &pem, err, sizeof(err)) != 0) {
    fprintf(stderr, "ztna ca init: %s\n", err);
    return 1;
  }
  int rv = zt_write_file(key_path, pem.key, 0600, force, err, sizeof(err)) ||
           zt_write_file(cert_path, pem.cert, 0644, force, err, sizeof(err));
  zt_pem_free(&pem);
  if (rv) {
    fprintf(stderr, "ztna ca init: %s\n", err);
    return 1;
  }
  printf("CA '%s' created: %s (public) and %s (secret)\n", cn, cert_path,
         key_path);
  return 0;
}

/* DIR/ca.pem and DIR/ca.key, checked to be a CA and its key (zt_cert_issue
 * checks too; here the message can name the directory). */
static int read_ca(const char *ca_dir, struct zt_pem *ca, char *err,
                   size_t errlen) {
  char path[4096], why[256];
  if (join(path, sizeof(path), ca_dir, "/ca.pem") ||
      !(ca->cert = zt_file_read(path, PEM_MAX, NULL, err, errlen)) ||
      join(path, sizeof(path), ca_dir, "/ca.key") ||
      !(ca->key = zt_file_read(path, PEM_MAX, NULL, err, errlen)))
    return -1;
  if (zt_ca_check(ca, why, sizeof(why)) != 0) {
    snprintf(err, errlen, "--ca-dir %s: %s", ca_dir, why);
    return -1;
  }
  return 0;
}

static int cert_issue(int argc, char **argv) {
  static const struct option opts[] = {
      {"ca-dir", required_argument, NULL, 'c'},
      {"role", required_argument, NULL, 'r'},
      {"name", required_argument, NULL, 'n'},
      {"out", required_argument, NULL, 'o'},
      {"days", required_argument, NULL, 'D'},
      {"dns", required_argument, NULL, 'd'},
      {"ip", required_argument, NULL, 'i'},
      {"force", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *ca_dir = NULL, *role_s = NULL, *name = NULL, *out = NULL;
  const char *dns[MAX_SANS + 1] = {0}, *ips[MAX_SANS + 1] = {0};
  size_t n_dns = 0, n_ips = 0;
  unsigned days = 825;
  bool force = false;
  int ch, rv = 1;
  char err[512], cert_path[4096], key_path[4096];
  enum zt_role role;

  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': ca_dir = optarg; break;
    case 'r': role_s = optarg; break;
    case 'n': name = optarg; break;
    case 'o': out = optarg; break;
    case 'f': force = true; break;
    case 'D':
      if (parse_days(optarg, &days) != 0) {
        fprintf(stderr, "ztna cert issue: --days: expected 1..36500\n");
        return 2;
      }
      break;
    case 'd':
    case 'i':
      if ((ch == 'd' ? n_dns : n_ips) == MAX_SANS) {
        fprintf(stderr, "ztna cert issue: at most %d --dns and --ip each\n",
                MAX_SANS);
        return 2;
      }
      if (ch == 'd')
        dns[n_dns++] = optarg;
      else
        ips[n_ips++] = optarg;
      break;
    case 'h': fputs(cert_usage, stdout); return 0;
    default: fputs(cert_usage, stderr); return 2;
    }
  }
  if (!ca_dir || !role_s || !name || optind < argc) {
    fputs(cert_usage, stderr);
    return 2;
  }
  if (zt_role_parse(role_s, &role) != 0) {
    fprintf(stderr,
            "ztna cert issue: --role: '%s' is not intermediate, connector, "
            "agent or admin\n",
            role_s);
    return 2;
  }
  if (!zt_name_valid(name)) {
    fprintf(stderr,
            "ztna cert issue: --name: '%s' is not a valid name ("
            ZT_NAME_RULE_TEXT ")\n",
            name);
    return 2;
  }
  if (!out)
    out = name;
  struct zt_pem ca = {0}, leaf = {0};
  if (read_ca(ca_dir, &ca, err, sizeof(err)) != 0)
    goto out;
  if (join(cert_path, sizeof(cert_path), out, ".pem") ||
      join(key_path, sizeof(key_path), out, ".key")) {
    snprintf(err, sizeof(err), "%s: path too long", out);
    goto out;
  }
  if (zt_cert_issue(&ca, role, name, days, dns, ips, &leaf, err,
                    sizeof(err)) != 0 ||
      zt_write_file(key_path, leaf.key, 0600, force, err, sizeof(err)) != 0 ||
      zt_write_file(cert_path, leaf.cert, 0644, force, err, sizeof(err)) != 0)
    goto out;
  printf("issued ztna://%s/%s: %s and %s\n", zt_role_name(role), name,
         cert_path, key_path);
  rv = 0;
out:
  if (rv)
    fprintf(stderr, "ztna cert issue: %s\n", err);
  zt_pem_free(&ca);
  zt_pem_free(&leaf);
  return rv;
}

/* What a renewed certificate keeps of the old one: its identity and its
 * DNS and IP names (the Intermediate's, for other TLS tools). */
struct old_cert {
  enum zt_role role;
  char name[ZT_NAME_MAX + 1];
  char dns_buf[MAX_SANS][256], ip_buf[MAX_SANS][INET6_ADDRSTRLEN];
  const char *dns[MAX_SANS + 1], *ips[MAX_SANS + 1];
};

static int read_old_cert(const char *path, const char *pem,
                         struct old_cert *o, char *err, size_t errlen) {
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)}, der = {0};
  size_t n_dns = 0, n_ips = 0;
  char why[256];
  int rv = -1;
  memset(o, 0, sizeof(*o));
  if (gnutls_x509_crt_init(&crt) < 0 ||
      gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0 ||
      gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0) {
    snprintf(err, errlen, "%s: not a PEM certificate", path);
    goto out;
  }
  if (zt_identity_from_der(der.data, der.size, &o->role, o->name, why,
                           sizeof(why)) != 0) {
    snprintf(err, errlen, "%s: %s", path, why);
    goto out;
  }
  for (unsigned i = 0;; i++) {
    char san[256];
    size_t len = sizeof(san);
    unsigned type;
    if (gnutls_x509_crt_get_subject_alt_name2(crt, i, san, &len, &type,
                                              NULL) < 0)
      break;
    if (type == GNUTLS_SAN_DNSNAME && n_dns < MAX_SANS && len < 256) {
      memcpy(o->dns_buf[n_dns], san, len);
      o->dns_buf[n_dns][len] = 0;
      o->dns[n_dns] = o->dns_buf[n_dns];
      n_dns++;
    } else if (type == GNUTLS_SAN_IPADDRESS && n_ips < MAX_SANS &&
               (len == 4 || len == 16) &&
               inet_ntop(len == 4 ? AF_INET : AF_INET6, san, o->ip_buf[n_ips],
                         sizeof(o->ip_buf[n_ips]))) {
      o->ips[n_ips] = o->ip_buf[n_ips];
      n_ips++;
    }
  }
  rv = 0;
out:
  gnutls_free(der.data);
  if (crt)
    gnutls_x509_crt_deinit(crt);
  return rv;
}

/* `ztna cert renew`: the same identity, a new serial and validity, a new
 * key unless --keep-key. The key is written before the certificate, each
 * through a rename: a daemon reloaded between the two sees a key that is
 * not its certificate's, refuses it and keeps the old pair. */
static int cert_renew(int argc, char **argv) {
  static const struct option opts[] = {
      {"ca-dir", required_argument, NULL, 'c'},
      {"key", required_argument, NULL, 'k'},
      {"keep-key", no_argument, NULL, 'K'},
      {"out", required_argument, NULL, 'o'},
      {"days", required_argument, NULL, 'D'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *ca_dir = NULL, *key_in = NULL, *out = NULL, *cert_in;
  bool keep_key = false;
  unsigned days = 825;
  int ch, rv = 1;
  char err[512], base[4096], key_def[4096], cert_path[4096], key_path[4096];
  struct zt_pem ca = {0}, leaf = {0};
  char *old_pem = NULL, *key_pem = NULL;
  struct old_cert *o = calloc(1, sizeof(*o));

  optind = 0; /* CERT may come before the options */
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': ca_dir = optarg; break;
    case 'k': key_in = optarg; break;
    case 'K': keep_key = true; break;
    case 'o': out = optarg; break;
    case 'D':
      if (parse_days(optarg, &days) != 0) {
        fprintf(stderr, "ztna cert renew: --days: expected 1..36500\n");
        free(o);
        return 2;
      }
      break;
    case 'h': fputs(cert_usage, stdout); free(o); return 0;
    default: fputs(cert_usage, stderr); free(o); return 2;
    }
  }
  if (!ca_dir || optind != argc - 1 || !o) {
    fputs(cert_usage, stderr);
    free(o);
    return 2;
  }
  cert_in = argv[optind];
  /* PREFIX: CERT without its .pem; the key beside it. */
  size_t l = strlen(cert_in);
  snprintf(base, sizeof(base), "%.*s",
           (int)(l > 4 && !strcmp(cert_in + l - 4, ".pem") ? l - 4 : l),
           cert_in);
  if (join(key_def, sizeof(key_def), base, ".key") ||
      join(cert_path, sizeof(cert_path), out ? out : base, ".pem") ||
      join(key_path, sizeof(key_path), out ? out : base, ".key")) {
    snprintf(err, sizeof(err), "%s: path too long", cert_in);
    goto out;
  }
  if (!out)
    snprintf(cert_path, sizeof(cert_path), "%s", cert_in);
  if (!key_in)
    key_in = key_def;
  if (read_ca(ca_dir, &ca, err, sizeof(err)) != 0 ||
      !(old_pem = zt_file_read(cert_in, PEM_MAX, NULL, err, sizeof(err))) ||
      read_old_cert(cert_in, old_pem, o, err, sizeof(err)) != 0)
    goto out;
  if (zt_cert_signed_by(old_pem, ca.cert) != 1) {
    snprintf(err, sizeof(err),
             "%s is not signed by the CA in %s (renew it with the CA that "
             "issued it, or issue a new one with `ztna cert issue`)",
             cert_in, ca_dir);
    goto out;
  }
  if (keep_key &&
      !(key_pem = zt_file_read(key_in, PEM_MAX, NULL, err, sizeof(err))))
    goto out;
  if (zt_cert_issue_key(&ca, o->role, o->name,
                        (int64_t)time(NULL) + (int64_t)days * 86400, o->dns,
                        o->ips, key_pem, &leaf, err, sizeof(err)) != 0 ||
      (!keep_key &&
       zt_write_file(key_path, leaf.key, 0600, true, err, sizeof(err)) != 0) ||
      zt_write_file(cert_path, leaf.cert, 0644, true, err, sizeof(err)) != 0)
    goto out;
  printf("renewed ztna://%s/%s for %u days: %s, %s key %s\n",
         zt_role_name(o->role), o->name, days, cert_path,
         keep_key ? "same" : "new", keep_key ? key_in : key_path);
  rv = 0;
out:
  if (rv)
    fprintf(stderr, "ztna cert renew: %s\n", err);
  free(old_pem);
  if (key_pem)
    zt_free_secret_str(key_pem);
  zt_pem_free(&ca);
  zt_pem_free(&leaf);
  free(o);
  return rv;
}

static int load_crt(const char *path, gnutls_x509_crt_t *crt, char *err,
                    size_t errlen) {
  char *pem = zt_file_read(path, PEM_MAX, NULL, err, errlen);
  if (!pem)
    return -1;
  gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
  int rv = gnutls_x509_crt_init(crt);
  if (rv >= 0)
    rv = gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM);
  free(pem);
  if (rv < 0) {
    snprintf(err, errlen, "%s: %s", path, gnutls_strerror(rv));
    return -1;
  }
  return 0;
}

static void print_identity(gnutls_x509_crt_t crt) {
  gnutls_datum_t der = {NULL, 0};
  enum zt_role role;
  char name[ZT_NAME_MAX + 1], why[256];
  if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
    return;
  if (zt_identity_from_der(der.data, der.size, &role, name, why,
                           sizeof(why)) == 0)
    printf("identity:   ztna://%s/%s\n", zt_role_name(role), name);
  else
    printf("identity:   none (%s)\n", why);
  gnutls_free(der.data);
}

static void print_time(const char *label, time_t t) {
  char buf[64];
  struct tm tm;
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
  printf("%s%s\n", label, buf);
}

static int cert_show(int argc, char **argv) {
  gnutls_x509_crt_t crt;
  gnutls_datum_t dn = {NULL, 0};
  char err[512];
  if (argc != 2) {
    fputs(cert_usage, stderr);
    return 2;
  }
  if (load_crt(argv[1], &crt, err, sizeof(err)) != 0) {
    fprintf(stderr, "ztna cert show: %s\n", err);
    return 1;
  }
  print_identity(crt);
  if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
    printf("subject:    %.*s\n", (int)dn.size, dn.data);
    gnutls_free(dn.data);
  }
  if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) >= 0) {
    printf("issuer:     %.*s\n", (int)dn.size, dn.data);
    gnutls_free(dn.data);
  }
  print_time("not before: ", gnutls_x509_crt_get_activation_time(crt));
  print_time("not after:  ", gnutls_x509_crt_get_expiration_time(crt));
  for (unsigned i = 0;; i++) {
    char san[512];
    size_t len = sizeof(san);
    unsigned type;
    int rv = gnutls_x509_crt_get_subject_alt_name2(crt, i, san, &len, &type,
                                                   NULL);
    if (rv < 0)
      break;
    if (type == GNUTLS_SAN_IPADDRESS) {
      char ip[INET6_ADDRSTRLEN] = "?";
      inet_ntop(len == 4 ? AF_INET : AF_INET6, san, ip, sizeof(ip));
      printf("san:        IP %s\n", ip);
    } else {
      printf("san:        %s %.*s\n",
             type == GNUTLS_SAN_URI       ? "URI"
             : type == GNUTLS_SAN_DNSNAME ? "DNS"
                                          : "other",
             (int)len, san);
    }
  }
  gnutls_x509_crt_deinit(crt);
  return 0;
}

static int cert_verify(int argc, char **argv) {
  static const struct option opts[] = {
      {"ca", required_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *ca_path = NULL;
  int ch;
  char err[512];
  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': ca_path = optarg; break;
    case 'h': fputs(cert_usage, stdout); return 0;
    default: fputs(cert_usage, stderr); return 2;
    }
  }
  if (!ca_path || optind != argc - 1) {
    fputs(cert_usage, stderr);
    return 2;
  }
  gnutls_x509_crt_t ca, crt;
  if (load_crt(ca_path, &ca, err, sizeof(err)) != 0 ||
      load_crt(argv[optind], &crt, err, sizeof(err)) != 0) {
    fprintf(stderr, "ztna cert verify: %s\n", err);
    return 1;
  }
  unsigned status = 0;
  int rv = gnutls_x509_crt_verify(crt, &ca, 1, 0, &status);
  int ok = rv >= 0 && status == 0;
  if (ok) {
    printf("%s: OK, signed by %s\n", argv[optind], ca_path);
    print_identity(crt);
  } else {
    gnutls_datum_t why = {NULL, 0};
    if (rv >= 0 && gnutls_certificate_verification_status_print(
                       status, GNUTLS_CRT_X509, &why, 0) >= 0) {
      fprintf(stderr, "%s: NOT valid: %s\n", argv[optind], why.data);
      gnutls_free(why.data);
    } else {
      fprintf(stderr, "%s: NOT valid: %s\n", argv[optind],
              gnutls_strerror(rv));
    }
  }
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_crt_deinit(ca);
  return ok ? 0 : 1;
}

/* ---- revocation ----------------------------------------------------------
 * DIR/revoked is the CA's record, one line per revoked certificate:
 *   SERIAL-HEX UNIX-TIME REASON IDENTITY
 * and DIR/crl.pem is made from it, whole, each time: the CRL is what the
 * daemons read (config `crl`), the record keeps what a CRL cannot carry
 * here (reason, identity) for operators. */

#define CRL_NEXT_DAYS 30
#define MAX_REVOKED 65536

static int hex_to_serial(const char *hex, struct zt_revocation *r) {
  size_t n = strlen(hex);
  if (n == 0 || n % 2 || n / 2 > ZT_SERIAL_MAX)
    return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return -1;
    r->serial[i] = (uint8_t)v;
  }
  r->len = n / 2;
  return 0;
}

static void serial_to_hex(const uint8_t *s, size_t len, char *out) {
  for (size_t i = 0; i < len; i++)
    sprintf(out + 2 * i, "%02x", s[i]);
  out[2 * len] = 0;
}

/* The record's entries into list (at most MAX_REVOKED). Their count, or -1
 * with err naming the line. */
static long read_revoked(const char *path, struct zt_revocation *list,
                         char *err, size_t errlen) {
  if (access(path, F_OK) != 0)
    return 0;
  char *text = zt_file_read(path, 64u << 20, NULL, err, errlen);
  if (!text)
    return -1;
  long n = 0, line = 0;
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char hex[2 * ZT_SERIAL_MAX + 2];
    long long when;
    line++;
    if (l[0] == '#' || l[0] == 0)
      continue;
    if (n == MAX_REVOKED || sscanf(l, "%41s %lld", hex, &when) != 2 ||
        hex_to_serial(hex, &list[n]) != 0) {
      snprintf(err, errlen, "%.400s:%ld: not 'SERIAL-HEX UNIX-TIME REASON "
               "IDENTITY'", path, line);
      free(text);
      return -1;
    }
    list[n++].when = when;
  }
  free(text);
  return n;
}

static int cert_identity(const char *pem, char *out, size_t n) {
  gnutls_x509_crt_t crt;
  gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)}, der = {0};
  enum zt_role role;
  char name[ZT_NAME_MAX + 1], why[200];
  snprintf(out, n, "-");
  if (gnutls_x509_crt_init(&crt) < 0)
    return -1;
  if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
      gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0 &&
      zt_identity_from_der(der.data, der.size, &role, name, why,
                           sizeof(why)) == 0)
    snprintf(out, n, "ztna://%s/%s", zt_role_name(role), name);
  gnutls_free(der.data);
  gnutls_x509_crt_deinit(crt);
  return 0;
}

static int reason_valid(const char *r) {
  if (!r[0] || strlen(r) > 64)
    return 0;
  for (const char *p = r; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      return 0;
  return 1;
}

static int append_record(const char *path, const char *line, char *err,
                         size_t errlen) {
  size_t len = 0;
  char *old = access(path, F_OK) == 0
                  ? zt_file_read(path, 64u << 20, &len, err, errlen)
                  : calloc(1, 1);
  if (!old)
    return -1;
  char *text = malloc(len + strlen(line) + 2);
  if (!text) {
    free(old);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  sprintf(text, "%s%s%s", old, len && old[len - 1] != '\n' ? "\n" : "", line);
  int rv = zt_write_file(path, text, 0644, true, err, errlen);
  free(old);
  free(text);
  return rv;
}

static int cert_revoke(int argc, char **argv) {
  static const struct option opts[] = {
      {"ca-dir", required_argument, NULL, 'c'},
      {"reason", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *ca_dir = NULL, *reason = "unspecified";
  int ch, rv = 1;
  char err[600], why[300], path[4096], rec_path[4096], crl_path[4096];
  struct zt_pem ca = {0};
  char *leaf = NULL, *crl_pem = NULL;
  struct zt_revocation *list = NULL, r;

  /* 0: a full reset of getopt (argument permutation included) when
   * called again in one process. */
  optind = 0;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': ca_dir = optarg; break;
    case 'r': reason = optarg; break;
    case 'h': fputs(cert_usage, stdout); return 0;
    default: fputs(cert_usage, stderr); return 2;
    }
  }
  if (!ca_dir || optind != argc - 1) {
    fputs(cert_usage, stderr);
    return 2;
  }
  if (!reason_valid(reason)) {
    fprintf(stderr, "ztna cert revoke: --reason: '%s' is not one word of "
            "letters, digits, '-' or '_' (e.g. keyCompromise, superseded)\n",
            reason);
    return 2;
  }
  const char *cert_path = argv[optind];
  if (join(path, sizeof(path), ca_dir, "/ca.pem") ||
      !(ca.cert = zt_file_read(path, PEM_MAX, NULL, err, sizeof(err))) ||
      join(path, sizeof(path), ca_dir, "/ca.key") ||
      !(ca.key = zt_file_read(path, PEM_MAX, NULL, err, sizeof(err))))
    goto out;
  if (zt_ca_check(&ca, why, sizeof(why)) != 0) {
    snprintf(err, sizeof(err), "--ca-dir %s: %s", ca_dir, why);
    goto out;
  }
  if (!(leaf = zt_file_read(cert_path, PEM_MAX, NULL, err, sizeof(err))))
    goto out;
  if (zt_cert_serial(leaf, r.serial, &r.len, NULL, why, sizeof(why)) != 0) {
    snprintf(err, sizeof(err), "%s: %s", cert_path, why);
    goto out;
  }
  /* Only the CA's own certificates: another CA's serial means nothing in
   * this CRL, and the operator most likely picked the wrong directory. */
  if (zt_cert_signed_by(leaf, ca.cert) != 1) {
    snprintf(err, sizeof(err), "%s is not signed by the CA in %s", cert_path,
             ca_dir);
    goto out;
  }
  if (join(rec_path, sizeof(rec_path), ca_dir, "/revoked") ||
      join(crl_path, sizeof(crl_path), ca_dir, "/crl.pem")) {
    snprintf(err, sizeof(err), "%s: path too long", ca_dir);
    goto out;
  }
  if (!(list = calloc(MAX_REVOKED + 1, sizeof(*list)))) {
    snprintf(err, sizeof(err), "out of memory");
    goto out;
  }
  long n = read_revoked(rec_path, list, err, sizeof(err));
  if (n < 0)
    goto out;
  char hex[2 * ZT_SERIAL_MAX + 1], ident[ZT_NAME_MAX + 32];
  serial_to_hex(r.serial, r.len, hex);
  cert_identity(leaf, ident, sizeof(ident));
  bool already = false;
  for (long i = 0; i < n; i++)
    already |= list[i].len == r.len && !memcmp(list[i].serial, r.serial, r.len);
  if (!already) {
    char line[256];
    if (n == MAX_REVOKED) {
      snprintf(err, sizeof(err), "%.400s: %d entries already", rec_path,
               MAX_REVOKED);
      goto out;
    }
    r.when = (int64_t)time(NULL);
    list[n++] = r;
    snprintf(line, sizeof(line), "%s %lld %s %s\n", hex, (long long)r.when,
             reason, ident);
    if (append_record(rec_path, line, err, sizeof(err)) != 0)
      goto out;
  }
  if (zt_crl_make(&ca, list, (size_t)n, (int64_t)time(NULL), CRL_NEXT_DAYS,
                  &crl_pem, err, sizeof(err)) != 0 ||
      zt_write_file(crl_path, crl_pem, 0644, true, err, sizeof(err)) != 0)
    goto out;
  if (already)
    printf("%s (serial %s) was already revoked; %s rewritten (%ld "
           "entries)\n", ident, hex, crl_path, n);
  else
    printf("revoked %s (serial %s, reason %s); %s written (%ld entries): "
           "reload the daemons that use it (SIGHUP)\n",
           ident, hex, reason, crl_path, n);
  rv = 0;
out:
  if (rv)
    fprintf(stderr, "ztna cert revoke: %s\n", err);
  zt_pem_free(&ca);
  free(leaf);
  free(crl_pem);
  free(list);
  return rv;
}

static int crl_show(int argc, char **argv) {
  static const struct option opts[] = {
      {"ca", required_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *ca_path = NULL;
  int ch, rv = 1;
  char err[600];
  /* 0: a full reset of getopt (argument permutation included) when
   * called again in one process. */
  optind = 0;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': ca_path = optarg; break;
    case 'h': fputs(cert_usage, stdout); return 0;
    default: fputs(cert_usage, stderr); return 2;
    }
  }
  if (optind != argc - 1) {
    fputs(cert_usage, stderr);
    return 2;
  }
  const char *file = argv[optind];
  char *pem = zt_file_read(file, 64u << 20, NULL, err, sizeof(err));
  gnutls_x509_crl_t crl = NULL;
  if (!pem)
    goto out;
  gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
  int g;
  if ((g = gnutls_x509_crl_init(&crl)) < 0 ||
      (g = gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_PEM)) < 0) {
    snprintf(err, sizeof(err), "%s: not a CRL: %s", file, gnutls_strerror(g));
    goto out;
  }
  if (ca_path) {
    char *ca = zt_file_read(ca_path, PEM_MAX, NULL, err, sizeof(err));
    struct zt_crl *ok = ca ? zt_crl_from_pem(pem, ca, err, sizeof(err)) : NULL;
    free(ca);
    if (!ok) {
      char why[1400];
      snprintf(why, sizeof(why), "%.300s: %.300s (CA %.300s)", file, err,
               ca_path);
      snprintf(err, sizeof(err), "%.590s", why);
      goto out;
    }
    zt_crl_free(ok);
    printf("signature:   OK, by the CA in %s\n", ca_path);
  }
  gnutls_datum_t dn = {NULL, 0};
  if (gnutls_x509_crl_get_issuer_dn3(crl, &dn, 0) >= 0) {
    printf("issuer:      %.*s\n", (int)dn.size, dn.data);
    gnutls_free(dn.data);
  }
  print_time("this update: ", gnutls_x509_crl_get_this_update(crl));
  print_time("next update: ", gnutls_x509_crl_get_next_update(crl));
  int count = gnutls_x509_crl_get_crt_count(crl);
  printf("revoked:     %d\n", count < 0 ? 0 : count);
  for (int i = 0; i < count; i++) {
    uint8_t serial[ZT_SERIAL_MAX];
    size_t len = sizeof(serial);
    time_t t;
    char hex[3 * ZT_SERIAL_MAX];
    if (gnutls_x509_crl_get_crt_serial(crl, (unsigned)i, serial, &len, &t) < 0)
      continue;
    zt_serial_hex(serial, len, hex, sizeof(hex));
    printf("  serial %s  ", hex);
    print_time("revoked ", t);
  }
  rv = 0;
out:
  if (rv)
    fprintf(stderr, "ztna crl show: %s\n", err);
  if (crl)
    gnutls_x509_crl_deinit(crl);
  free(pem);
  return rv;
}

int zt_cmd_crl(int argc, char **argv) {
  if (argc >= 1 && strcmp(argv[0], "show") == 0)
    return crl_show(argc, argv);
  fputs(cert_usage, argc >= 1 && !strcmp(argv[0], "--help") ? stdout : stderr);
  return argc >= 1 && !strcmp(argv[0], "--help") ? 0 : 2;
}

int zt_cmd_ca(int argc, char **argv) {
  if (argc >= 1 && strcmp(argv[0], "init") == 0)
    return ca_init(argc, argv);
  fputs(ca_usage, argc >= 1 && !strcmp(argv[0], "--help") ? stdout : stderr);
  return argc >= 1 && !strcmp(argv[0], "--help") ? 0 : 2;
}

int zt_cmd_cert(int argc, char **argv) {
  if (argc >= 1 && strcmp(argv[0], "issue") == 0)
    return cert_issue(argc, argv);
  if (argc >= 1 && strcmp(argv[0], "show") == 0)
    return cert_show(argc, argv);
  if (argc >= 1 && strcmp(argv[0], "revoke") == 0)
    return cert_revoke(argc, argv);
  if (argc >= 1 && strcmp(argv[0], "renew") == 0)
    return cert_renew(argc, argv);
  if (argc >= 1 && strcmp(argv[0], "verify") == 0)
    return cert_verify(argc, argv);
  fputs(cert_usage, argc >= 1 && !strcmp(argv[0], "--help") ? stdout : stderr);
  return argc >= 1 && !strcmp(argv[0], "--help") ? 0 : 2;
}

/*
 * Wiping secrets before their memory goes back to the allocator. A private
 * key (PEM text, a DER export) or a secret derived from one must not linger
 * in freed heap for a later bug (an over-read, a core dump, reuse of the
 * chunk) to find. Every free of such a buffer goes through here, so a
 * reviewer can grep for the plain free()s that remain.
 */
#ifndef ZTNA_SECRET_H
#define ZTNA_SECRET_H

#include <gnutls/gnutls.h>
#include <stddef.h>

/* Zeroes n bytes in a way the compiler may not drop as a dead store. */
void zt_wipe(void *p, size_t n);

/* zt_wipe then free(); p may be NULL. */
void zt_free_secret(void *p, size_t n);

/* The same for a NUL-terminated malloc'd string, its terminator included. */
void zt_free_secret_str(char *s);

/* The same for a datum GnuTLS allocated (gnutls_free); leaves it empty. */
void zt_free_secret_datum(gnutls_datum_t *d);

#endif

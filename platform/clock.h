/* Monotonic time in nanoseconds: the one clock every node's timers use. */
#ifndef ZTNA_CLOCK_H
#define ZTNA_CLOCK_H

#include <stdint.h>

uint64_t zt_now_ns(void);

#endif

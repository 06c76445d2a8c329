/* Monotonic time. See clock.h. */
#include "clock.h"

#include <time.h>

/* CLOCK_MONOTONIC, not CLOCK_BOOTTIME: timers and RTT samples must not jump
 * when the wall clock is set, and the loop's timerfd uses the same clock so
 * deadlines computed here are directly comparable with it. */
uint64_t zt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

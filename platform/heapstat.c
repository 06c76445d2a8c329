/* heapstat.h: mallinfo2() and the ngtcp2 allocator's counters. */
#include "heapstat.h"

#include <malloc.h>

#include "pagepool.h"
#include "quicmem.h"

#define KIB(x) ((unsigned long long)((x) >> 10))

void zt_heapstat_text(struct zt_strbuf *sb) {
  struct mallinfo2 mi = mallinfo2(); /* main arena and mmapped blocks */
  struct zq_mem_stats q;
  zq_mem_get_stats(&q);
  zt_strbuf_printf(sb,
                   "memory: heap %llu KiB (in use %llu, free %llu in %zu "
                   "chunks, of it %llu at the top), mmapped %llu KiB\n",
                   KIB(mi.arena), KIB(mi.uordblks), KIB(mi.fordblks),
                   mi.ordblks, KIB(mi.keepcost), KIB(mi.hblkhd));
  zt_strbuf_printf(sb, "memory: ngtcp2 %llu KiB in %llu blocks;",
                   KIB(q.live_bytes), (unsigned long long)q.live_blocks);
  for (unsigned i = 0; i < ZQ_MEM_CLASSES; i++) {
    if (!q.class_blocks[i])
      continue;
    size_t max = zq_mem_class_max(i);
    if (max)
      zt_strbuf_printf(sb, " <=%zu: %llu KiB/%llu", max, KIB(q.class_bytes[i]),
                       (unsigned long long)q.class_blocks[i]);
    else
      zt_strbuf_printf(sb, " larger: %llu KiB/%llu", KIB(q.class_bytes[i]),
                       (unsigned long long)q.class_blocks[i]);
  }
  zt_strbuf_printf(sb, "\n");
  struct zt_pagepool_stats pp;
  zt_pagepool_stats(&pp);
  if (pp.pages_reserved)
    zt_strbuf_printf(sb,
                     "memory: page pool %zu blocks live, %zu free, %zu of "
                     "%zu pages handed out\n",
                     pp.blocks_live, pp.blocks_free, pp.pages_handed_out,
                     pp.pages_reserved);
  struct zt_pagepool_class pc[ZT_PAGEPOOL_CLASSES + 1];
  if (pp.blocks_live && zt_pagepool_residency(pc) == 0) {
    zt_strbuf_printf(sb, "memory: page pool live blocks (pages: blocks, "
                         "resident pages):");
    for (unsigned i = 1; i <= ZT_PAGEPOOL_CLASSES; i++)
      if (pc[i].live)
        zt_strbuf_printf(sb, " %u: %zu, %zu;", i, pc[i].live,
                         pc[i].resident_pages);
    zt_strbuf_printf(sb, "\n");
  }
}

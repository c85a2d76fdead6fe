/* An instruction budget for a Unicorn time slice, checked once per translated block.
 *
 * Unicorn's emu_start(count=N) calls a helper before every instruction; this block hook
 * costs one call per block instead. Called as a block is entered, it stops the hart there,
 * before the block runs, once the slice's budget is spent; otherwise it adds the block's
 * instruction count (looked up by (address, size) in a table that Python fills on a miss,
 * decoding the block once). A slice thus ends at the first block boundary at or past its
 * budget: the same place in every run of the same code, which keeps seeded runs
 * deterministic. (Unicorn checks for a stop request right after the block hooks.)
 */
#include <stdint.h>

/* Freestanding (no libc): the table belongs to Python, which grows it from `decode`. */

struct slot {
	uint64_t key; /* address << 16 | size | 1 << 63; 0: empty */
	uint32_t insns;
};

struct budget {
	int64_t remaining; /* instructions left in this slice */
	uint64_t total; /* instructions in the blocks run so far */
	uint64_t last_addr; /* the block entered last: a fault inside it is settled by Python */
	uint32_t last_size;
	uint32_t last_insns;
	int (*stop)(void *uc); /* uc_emu_stop */
	/* Python: the instructions in a block; may replace an almost full table by an empty one */
	uint32_t (*decode)(uint64_t addr, uint32_t size);
	struct slot *table;
	uint64_t mask; /* table size - 1 (a power of two) */
	uint64_t used;
};

static uint64_t hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	return key ^ (key >> 33);
}

void ftlab_budget_hook(void *uc, uint64_t addr, uint32_t size, struct budget *b)
{
	if (b->remaining <= 0) { /* spent: stop before this block runs */
		b->remaining = INT64_MAX; /* one stop request per slice */
		b->last_size = 0; /* nothing of it ran: nothing to settle */
		b->stop(uc);
		return;
	}
	uint64_t key = addr << 16 | (size & 0xffff) | 1ull << 63;
	uint64_t i = hash(key) & b->mask;
	while (b->table[i].key && b->table[i].key != key)
		i = (i + 1) & b->mask;
	uint32_t n;
	if (b->table[i].key) {
		n = b->table[i].insns;
	} else {
		n = b->decode(addr, size);
		if ((b->used + 1) * 2 <= b->mask + 1) { /* the table may have been replaced */
			i = hash(key) & b->mask;
			while (b->table[i].key)
				i = (i + 1) & b->mask;
			b->table[i].key = key;
			b->table[i].insns = n;
			b->used++;
		}
	}
	b->total += n;
	b->last_addr = addr;
	b->last_size = size;
	b->last_insns = n;
	b->remaining -= n;
}

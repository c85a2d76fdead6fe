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
#include <stdlib.h>

struct slot {
	uint64_t key; /* address << 16 | size; 0: empty */
	uint32_t insns;
};

struct budget {
	int64_t remaining; /* instructions left in this slice */
	uint64_t total; /* instructions in the blocks entered so far */
	uint64_t last_addr; /* the block entered last: a fault inside it is settled by Python */
	uint32_t last_size;
	uint32_t last_insns;
	int (*stop)(void *uc); /* uc_emu_stop */
	uint32_t (*decode)(uint64_t addr, uint32_t size); /* Python: instructions in a block */
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

static int grow(struct budget *b)
{
	uint64_t size = b->table ? (b->mask + 1) * 2 : 4096;
	struct slot *table = calloc(size, sizeof *table);
	if (!table)
		return -1;
	for (uint64_t i = 0; b->table && i <= b->mask; i++) {
		struct slot s = b->table[i];
		if (!s.key)
			continue;
		uint64_t j = hash(s.key) & (size - 1);
		while (table[j].key)
			j = (j + 1) & (size - 1);
		table[j] = s;
	}
	free(b->table);
	b->table = table;
	b->mask = size - 1;
	return 0;
}

void ftlab_budget_free(struct budget *b)
{
	free(b->table);
	b->table = NULL;
	b->mask = b->used = 0;
}

/* Forget every block (code was rewritten: a block at the same address may differ). */
void ftlab_budget_clear(struct budget *b)
{
	ftlab_budget_free(b);
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
	uint32_t n = 0;
	int found = 0;
	if (b->table) {
		for (uint64_t i = hash(key) & b->mask; b->table[i].key; i = (i + 1) & b->mask) {
			if (b->table[i].key == key) {
				n = b->table[i].insns;
				found = 1;
				break;
			}
		}
	}
	if (!found) {
		n = b->decode(addr, size);
		if ((b->used + 1) * 2 > (b->table ? b->mask + 1 : 0) && grow(b) == 0) {
			/* the table only grows; on allocation failure the next miss asks again */
		}
		if (b->table && (b->used + 1) * 2 <= b->mask + 1) {
			uint64_t i = hash(key) & b->mask;
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

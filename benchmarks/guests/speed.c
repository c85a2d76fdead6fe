/* Machine-speed benchmark guest: an integer hashing loop with calls and memory traffic.
 *
 * speed_hash(rounds, seed) streams a 256-byte buffer on its own stack through an
 * xxh64-style four-lane mixer, one 64-byte block per round, and writes each round's
 * mix back into the buffer. Every round makes two calls (mix_block, feedback), reads
 * a constant table and loads/stores the stack buffer. No libc, no floating point;
 * the work depends only on the arguments, so the instruction count is deterministic.
 */
#include <ftlab/runtime.h>

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull

#define WORDS 32 /* the buffer: 256 bytes */
#define BLOCK 8 /* words mixed per round: 64 bytes */

static const u64 salt[16] = {
	0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull,
	0x082EFA98EC4E6C89ull, 0x452821E638D01377ull, 0xBE5466CF34E90C6Cull,
	0xC0AC29B7C97C50DDull, 0x3F84D5B5B5470917ull, 0x9216D5D98979FB1Bull,
	0xD1310BA698DFB5ACull, 0x2FFD72DBD01ADFB7ull, 0xB8E1AFED6A267E96ull,
	0xBA7C9045F12C7F99ull, 0x24A19947B3916CF7ull, 0x0801F2E2858EFC16ull,
	0x636920D871574E69ull,
};

static inline u64 rotl(u64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline u64 round64(u64 acc, u64 in)
{
	acc += in * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

/* One 64-byte block into the four lanes: straight-line code, as xxh64's stripe loop. */
noinline void mix_block(u64 *lanes, const u64 *blk)
{
	u64 a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];

	a = round64(a, blk[0]);
	b = round64(b, blk[1]);
	c = round64(c, blk[2]);
	d = round64(d, blk[3]);
	a = round64(a, blk[4]);
	b = round64(b, blk[5]);
	c = round64(c, blk[6]);
	d = round64(d, blk[7]);
	lanes[0] = a;
	lanes[1] = b;
	lanes[2] = c;
	lanes[3] = d;
}

/* Fold the lanes back into the block just mixed: loads, stores and a table lookup. */
noinline u64 feedback(u64 *blk, const u64 *lanes, u64 round)
{
	u64 h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18);

	h ^= salt[(h >> 60) & 15];
	blk[round & (BLOCK - 1)] ^= h;
	blk[(round + 3) & (BLOCK - 1)] += h * P3;
	return h;
}

noinline u64 finish(const u64 *lanes, u64 total)
{
	u64 h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18);

	h ^= total;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

u64 speed_hash(u64 rounds, u64 seed)
{
	u64 buf[WORDS];
	u64 lanes[4] = { seed + P1 + P2, seed + P2, seed, seed - P1 };
	u64 total = 0;

	for (int i = 0; i < WORDS; i++)
		buf[i] = seed ^ salt[i & 15] ^ ((u64)i * P4);
	for (u64 r = 0; r < rounds; r++) {
		u64 *blk = &buf[(r * BLOCK) & (WORDS - 1)];

		mix_block(lanes, blk);
		total += feedback(blk, lanes, r);
	}
	return finish(lanes, total);
}

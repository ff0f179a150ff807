package io.sparkort;

import org.apache.spark.unsafe.Platform;

/**
 * Copies and clears the few bytes of one row or value with plain loads and stores. Platform's
 * copyMemory and setMemory check their arguments and call a stub each time, which on a row of a few
 * dozen bytes costs more than the work itself (a fifth of the scorer's time on an 8-float row, by perf).
 */
final class SmallBytes {
  /** Beyond this many bytes the work is long enough for Platform's fixed cost not to matter. */
  private static final long LARGE = 256;

  private SmallBytes() {}

  static void copy(Object src, long srcOffset, Object dst, long dstOffset, long bytes) {
    if (bytes > LARGE) {
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

  /** Zeroes {@code bytes} bytes, a multiple of 8, at an 8-byte aligned place. */
  static void clearWords(Object base, long offset, long bytes) {
    if (bytes > LARGE) {
      Platform.setMemory(base, offset, bytes, (byte) 0);
      return;
    }
    for (long i = 0; i < bytes; i += 8) {
      Platform.putLong(base, offset + i, 0L);
    }
  }
}

package io.sparkort;

import org.apache.spark.unsafe.Platform;

/**
 * Copies the few bytes of one row's value with plain loads and stores. Platform.copyMemory checks
 * its arguments and calls a stub each time, which on a row of a few dozen bytes costs more than the
 * copy itself (a fifth of the scorer's time on an 8-float row, by perf).
 */
final class ShortCopy {
  /** Beyond this many bytes a copy is long enough for Platform.copyMemory's fixed cost not to matter. */
  private static final long LONG_COPY = 256;

  private ShortCopy() {}

  static void copy(Object src, long srcOffset, Object dst, long dstOffset, long bytes) {
    if (bytes > LONG_COPY) {
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

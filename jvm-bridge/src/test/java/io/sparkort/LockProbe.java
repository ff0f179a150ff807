package io.sparkort;

import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.StandardOpenOption;

/** Run in a second JVM: prints "held" if another process holds the lock on the file named, else "free". */
public final class LockProbe {
  private LockProbe() {}

  public static void main(String[] args) throws IOException {
    try (FileChannel channel = FileChannel.open(new File(args[0]).toPath(), StandardOpenOption.WRITE);
        FileLock lock = channel.tryLock()) {
      System.out.println(lock == null ? "held" : "free");
    }
  }

  /** Whether a process other than this JVM sees {@code file} as locked. */
  static boolean heldByAnotherProcess(File file) throws IOException, InterruptedException {
    String launcher = new File(System.getProperty("java.home"), "bin/java").getPath();
    Process probe = new ProcessBuilder(launcher, "-cp", System.getProperty("java.class.path"), LockProbe.class.getName(),
        file.getPath()).redirectErrorStream(true).start();
    String out = new String(readAll(probe), java.nio.charset.StandardCharsets.UTF_8).trim();
    if (probe.waitFor() != 0) {
      throw new IOException("the lock probe failed: " + out);
    }
    return out.equals("held");
  }

  private static byte[] readAll(Process process) throws IOException {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    byte[] buffer = new byte[4096];
    for (int n; (n = process.getInputStream().read(buffer)) > 0; ) {
      out.write(buffer, 0, n);
    }
    return out.toByteArray();
  }
}

package io.sparkort;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;

/**
 * The version of a file as its metadata tells it: size, modification time, and on Unix the device,
 * inode and change time (which no user can set back), so a file rewritten in place or replaced is
 * another version, even with its old size and modification time restored. Whatever was computed
 * from a file's bytes (a hash, a verification) holds while its version is the same.
 */
final class FileVersion {
  private FileVersion() {}

  static String of(Path file) throws IOException {
    BasicFileAttributes basic = Files.readAttributes(file, BasicFileAttributes.class);
    StringBuilder version = new StringBuilder().append(basic.size()).append('|').append(basic.lastModifiedTime().toInstant());
    try {
      Map<String, Object> unix = Files.readAttributes(file, "unix:ino,dev,ctime");
      version.append('|').append(unix.get("dev")).append(':').append(unix.get("ino")).append('|').append(unix.get("ctime"));
    } catch (UnsupportedOperationException | IllegalArgumentException notUnix) {
      version.append('|').append(basic.fileKey());
    }
    return version.toString();
  }
}

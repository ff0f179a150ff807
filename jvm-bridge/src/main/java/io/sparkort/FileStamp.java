package io.sparkort;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;

/**
 * What a file's metadata says about its content: size, modification time, and on Unix the inode and
 * change time (which no user can set back), so a file rewritten in place or replaced has another
 * stamp, even with its old size and modification time restored.
 */
final class FileStamp {
  private FileStamp() {}

  static String of(Path file) throws IOException {
    BasicFileAttributes basic = Files.readAttributes(file, BasicFileAttributes.class);
    StringBuilder stamp = new StringBuilder().append(basic.size()).append('|').append(basic.lastModifiedTime().toInstant());
    try {
      Map<String, Object> unix = Files.readAttributes(file, "unix:ino,dev,ctime");
      stamp.append('|').append(unix.get("dev")).append(':').append(unix.get("ino")).append('|').append(unix.get("ctime"));
    } catch (UnsupportedOperationException | IllegalArgumentException notUnix) {
      stamp.append('|').append(basic.fileKey());
    }
    return stamp.toString();
  }
}

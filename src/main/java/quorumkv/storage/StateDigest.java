package quorumkv.storage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * An order-independent digest of a key/value map: the sum (mod 2^64) of a 64-bit hash of each
 * (key, value) pair. Equal maps give equal digests whatever order their writes were applied in,
 * and it is maintained in O(1) per write by subtracting the old pair and adding the new one.
 */
public final class StateDigest {
  private static final ThreadLocal<MessageDigest> SHA256 =
      ThreadLocal.withInitial(
          () -> {
            try {
              return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
              throw new IllegalStateException(e);
            }
          });

  private StateDigest() {}

  public static long pairHash(String key, String value) {
    MessageDigest sha = SHA256.get();
    sha.update(key.getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0); // separates key from value: ("ab","c") and ("a","bc") differ
    sha.update(value.getBytes(StandardCharsets.UTF_8));
    return ByteBuffer.wrap(sha.digest()).getLong();
  }

  public static String hex(long digest) {
    return String.format("%016x", digest);
  }
}

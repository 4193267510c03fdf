package quorumkv.http;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Validates what clients send; every method throws {@link InvalidRequest} with a message for the user. */
final class RequestLimits {
  static final Duration MAX_TIMEOUT = Duration.ofSeconds(60);
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s)?");

  private final int maxKeyBytes;
  private final int maxValueBytes;
  private final int followers;
  private final Duration defaultTimeout;

  RequestLimits(int maxKeyBytes, int maxValueBytes, int followers, Duration defaultTimeout) {
    this.maxKeyBytes = maxKeyBytes;
    this.maxValueBytes = maxValueBytes;
    this.followers = followers;
    this.defaultTimeout = defaultTimeout;
  }

  String key(String key) {
    if (key == null || key.isEmpty()) {
      throw new InvalidRequest("key must not be empty");
    }
    int bytes = key.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > maxKeyBytes) {
      throw new InvalidRequest("key is " + bytes + " bytes; the limit is " + maxKeyBytes + " (MAX_KEY_BYTES)");
    }
    for (int i = 0; i < key.length(); i++) {
      if (Character.isISOControl(key.charAt(i))) {
        throw new InvalidRequest("key must not contain control characters");
      }
    }
    return key;
  }

  String value(String value) {
    if (value == null || value.isEmpty()) {
      throw new InvalidRequest("value must not be empty");
    }
    int bytes = value.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > maxValueBytes) {
      throw new InvalidRequest("value is " + bytes + " bytes; the limit is " + maxValueBytes + " (MAX_VALUE_BYTES)");
    }
    return value;
  }

  /** The write quorum asked for, or -1 for the cluster default. */
  int writeQuorum(Optional<String> w) {
    if (w.isEmpty()) {
      return -1;
    }
    try {
      int n = Integer.parseInt(w.get().trim());
      if (n >= 0 && n <= followers) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new InvalidRequest("w must be an integer from 0 to " + followers + " (the number of followers), got '" + w.get() + "'");
  }

  Duration timeout(Optional<String> timeout) {
    if (timeout.isEmpty()) {
      return defaultTimeout;
    }
    Matcher m = DURATION.matcher(timeout.get().trim());
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      Duration d = "s".equals(m.group(2)) ? Duration.ofSeconds(n) : Duration.ofMillis(n);
      if (!d.isZero() && d.compareTo(MAX_TIMEOUT) <= 0) {
        return d;
      }
    }
    throw new InvalidRequest("timeout must be a duration from 1ms to 60s such as 500ms, 2s or 1500 (milliseconds), got '"
        + timeout.get() + "'");
  }

  ReadConsistency consistency(Optional<String> consistency) {
    return ReadConsistency.parse(consistency.orElse("local"));
  }
}

package quorumkv.config;

import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigResolver;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.Test;

/**
 * application.conf promises that every default in it can be overridden by an environment
 * variable. Resolving the file with a stand-in for the environment that answers every
 * {@code ${?NAME}} with a marker shows which keys end up taking their value from one.
 */
public class ApplicationConfTest {
  private static final String FROM_ENVIRONMENT = "from the environment variable ";

  /** Each key under {@code quorumkv} with its value when every variable is set: a marker and the variable's name. */
  private static Map<String, String> keysWithTheirEnvironmentVariable() {
    ConfigResolver environment = new ConfigResolver() {
      @Override
      public ConfigValue lookup(String name) {
        return ConfigValueFactory.fromAnyRef(FROM_ENVIRONMENT + name);
      }

      @Override
      public ConfigResolver withFallback(ConfigResolver fallback) {
        return this;
      }
    };
    Config resolved = ConfigFactory.parseResources("application.conf")
        .resolve(ConfigResolveOptions.noSystem().appendResolver(environment));
    Map<String, String> out = new TreeMap<>();
    resolved.getConfig("quorumkv").entrySet().forEach(e -> out.put(e.getKey(), e.getValue().unwrapped().toString()));
    return out;
  }

  @Test
  public void everySettingCanBeOverriddenByAnEnvironmentVariable() {
    Map<String, String> keys = keysWithTheirEnvironmentVariable();
    List<String> withoutOverride = keys.entrySet().stream()
        .filter(e -> !e.getValue().startsWith(FROM_ENVIRONMENT))
        .map(Map.Entry::getKey)
        .toList();
    assertTrue("keys of quorumkv { } in application.conf without a ${?NAME} line: " + withoutOverride,
        withoutOverride.isEmpty());
  }

  @Test
  public void eachEnvironmentVariableIsOneUpperCaseNameForOneSetting() {
    Map<String, String> settingOf = new HashMap<>();
    keysWithTheirEnvironmentVariable().forEach((key, value) -> {
      if (value.startsWith(FROM_ENVIRONMENT)) {
        String name = value.substring(FROM_ENVIRONMENT.length());
        assertTrue(key + " is overridden by '" + name + "'", name.matches("[A-Z][A-Z0-9_]*"));
        String other = settingOf.put(name, key);
        assertNull(name + " overrides both " + other + " and " + key, other);
      }
    });
  }
}

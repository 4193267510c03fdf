/**
 * The node's settings: {@link quorumkv.config.Settings} is the one typed view of application.conf
 * (every default is written there once, each overridable by an environment variable), read once
 * at start-up and handed to whatever needs it. At the bottom of the dependency order: nothing here
 * imports another quorumkv package.
 */
package quorumkv.config;

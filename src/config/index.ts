export { findConfigFile } from "./find.js";
export { CONFIG_SHAPE, loadConfigFile, loadConfigFor, parseBundlePins, parseConfig } from "./load.js";
export { parseDuration, parseSize } from "./size.js";
export { CONFIG_FILE_NAME, emptyConfig, type CacheSettings, type GcSettings, type NbrewindConfig, type PinRule } from "./types.js";
export { functionMatcher, functionMatches, globToRegExp, pinFor, pinHolds, pinsAsRecorded, resolvePins, type ResolvedPin } from "./pin-match.js";
export { pinChange, type PinChange } from "./pin-changes.js";
export { editConfigFile, removePin, setPin, type PinSelector } from "./edit.js";

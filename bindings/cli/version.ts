// The package's version, from package.json (bundled in at build time).
import { version } from "../../package.json";

export const VERSION: string = version;

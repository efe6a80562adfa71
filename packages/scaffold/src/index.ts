export type { ScaffoldOptions, ScaffoldResult } from "./scaffold.js";
export { registerInManifest, registerInSource, scaffoldProtocol } from "./scaffold.js";
export type { ProtocolNames } from "./templates.js";
export { PURE_MARKER, protocolNames, protocolPackageFiles } from "./templates.js";

// Generated at bundle time by scripts/test.mjs: every scenario file of examples/, test/selftests/, test/scenarios/.
declare module "gmemsim-test-scenarios" {
  const files: Record<string, string>;
  export default files;
}

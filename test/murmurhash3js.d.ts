// Types for the murmurhash3js package (it ships none), used by the independent shard reader in tests.
declare module 'murmurhash3js' {
  const murmur: { x86: { hash128(key: string, seed?: number): string } };
  export default murmur;
}

// The ABI files under assembly/abi/ are read by asc (where u32 / i32 are machine types) and by TypeScript (where
// every ABI number is a plain number): these aliases let TypeScript read the same files.
declare type u32 = number;
declare type i32 = number;

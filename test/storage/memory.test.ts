import { MemoryStore } from '../../src/storage/memory.ts';
import { storeContract } from './contract.ts';

// A MemoryStore lives in one process, so the contract's cross-process race is left out.
storeContract('MemoryStore', async () => new MemoryStore({ name: 'contract' }));

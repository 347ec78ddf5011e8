"""The live engine: real asyncio workers over a real TaskQueue backend."""

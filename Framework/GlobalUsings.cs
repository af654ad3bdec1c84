global using System.Numerics;
global using Kiln.Core;
global using Tensor = Kiln.Core.Tensor;
global using Kiln.Core.Ops;

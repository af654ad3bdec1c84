global using Xunit;
global using Kiln.Core;
global using Kiln.Core.Ops;
global using Tensor = Kiln.Core.Tensor;

func.func @attn(%arg0: tensor<1x4x8x16xf32>, %arg1: tensor<1x4x8x16xf32>, %arg2: tensor<1x4x8x16xf32>) -> tensor<1x4x8x16xf32> {
  %0 = sem.permute %arg1 {dims = [0, 1, 3, 2]} : tensor<1x4x16x8xf32>
  %1 = sem.expand %arg0 {size = [1, 4, 8, 16]} : tensor<1x4x8x16xf32>
  %2 = sem.view %1 {size = [4, 8, 16]} : tensor<4x8x16xf32>
  %3 = sem.expand %0 {size = [1, 4, 16, 8]} : tensor<1x4x16x8xf32>
  %4 = sem.view %3 {size = [4, 16, 8]} : tensor<4x16x8xf32>
  %5 = sem.bmm %2, %4 : tensor<4x8x8xf32>
  %6 = sem.view %5 {size = [1, 4, 8, 8]} : tensor<1x4x8x8xf32>
  %7 = sem.constant {value = 0.25} : f64
  %8 = sem.mul %6, %7 : tensor<1x4x8x8xf32>
  %9 = sem.arange {dtype = i64, end = 8} : tensor<8xi64>
  %10 = sem.unsqueeze %9 {dim = 0} : tensor<1x8xi64>
  %11 = sem.unsqueeze %9 {dim = 1} : tensor<8x1xi64>
  %12 = sem.le %10, %11 : tensor<8x8xi1>
  %13 = sem.constant {value = -1.0e9} : f64
  %14 = sem.masked_fill %8, %12, %13 : tensor<1x4x8x8xf32>
  %15 = sem._softmax %14 {dim = -1} : tensor<1x4x8x8xf32>
  %16 = sem.expand %15 {size = [1, 4, 8, 8]} : tensor<1x4x8x8xf32>
  %17 = sem.view %16 {size = [4, 8, 8]} : tensor<4x8x8xf32>
  %18 = sem.expand %arg2 {size = [1, 4, 8, 16]} : tensor<1x4x8x16xf32>
  %19 = sem.view %18 {size = [4, 8, 16]} : tensor<4x8x16xf32>
  %20 = sem.bmm %17, %19 : tensor<4x8x16xf32>
  %21 = sem.view %20 {size = [1, 4, 8, 16]} : tensor<1x4x8x16xf32>
  return %21 : tensor<1x4x8x16xf32>
}
